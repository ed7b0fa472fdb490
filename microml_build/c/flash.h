/* Flash access: AVR keeps the tables in program memory (PROGMEM) and reads them with pgm_read_*;
 * every other target reads plain const data, which the linker keeps in flash.
 */
#ifdef __AVR__
#include <avr/pgmspace.h>
#define MICROML_FLASH PROGMEM
#define MICROML_READ_FLOAT(address) pgm_read_float(address)
#define MICROML_READ_U8(address) pgm_read_byte(address)
#define MICROML_READ_U16(address) pgm_read_word(address)
#define MICROML_READ_U32(address) pgm_read_dword(address)
#else
#define MICROML_FLASH
#define MICROML_READ_FLOAT(address) (*(address))
#define MICROML_READ_U8(address) (*(address))
#define MICROML_READ_U16(address) (*(address))
#define MICROML_READ_U32(address) (*(address))
#endif
