/* Classifies three constant iris measurements on an ATmega328P and prints
 * the results on the UART (USART0, 115200 8N1), then stops the CPU.
 *
 * Under simavr (simavr -m atmega328p -f 16000000 firmware.elf) the UART
 * output appears on simavr's stderr, one line per '\n'; simavr exits when
 * the CPU sleeps with interrupts disabled. */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>
#include <stdio.h>

#include "iris_model.h"

#if IRIS_N_FEATURES != 4
#error "expected the 4 iris measurements"
#endif

/* 115200 baud is 2.1% fast at 16 MHz with U2X, as the Arduino core runs it. (It
 * also keeps simavr quick: it naps on each poll of UCSR0A, so a slow UART
 * costs seconds of wall time.) */
#define BAUD 115200
#define BAUD_TOL 3
#include <util/setbaud.h>

static int uart_putchar(char c, FILE *stream)
{
    (void)stream;
    loop_until_bit_is_set(UCSR0A, UDRE0);
    UCSR0A = (uint8_t)((UCSR0A & _BV(U2X0)) | _BV(TXC0)); /* clear TXC0 (write 1) */
    UDR0 = (uint8_t)c;
    return 0;
}

static FILE uart_out = FDEV_SETUP_STREAM(uart_putchar, NULL, _FDEV_SETUP_WRITE);

static void uart_init(void)
{
    UBRR0H = UBRRH_VALUE;
    UBRR0L = UBRRL_VALUE;
#if USE_2X
    UCSR0A |= _BV(U2X0);
#else
    UCSR0A &= (uint8_t)~_BV(U2X0);
#endif
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */
    UCSR0B = _BV(TXEN0);
    stdout = &uart_out;
}

/* sepal length, sepal width, petal length, petal width (cm); in RAM: 48 bytes. */
static const float samples[3][IRIS_N_FEATURES] = {
    {5.1f, 3.5f, 1.4f, 0.2f},
    {5.9f, 2.8f, 4.3f, 1.3f},
    {6.7f, 3.1f, 5.6f, 2.4f},
};

int main(void)
{
    uart_init();
    for (uint8_t i = 0; i < 3; i++) {
        int c = iris_predict(samples[i]);
        /* iris_label() points into flash (PROGMEM): print it with %S. */
        printf_P(PSTR("row %u: class %d %S\n"), i, c, iris_label(c));
    }

    /* Let the last byte leave the shift register, then stop for good. */
    loop_until_bit_is_set(UCSR0A, TXC0);
    cli();
    sleep_mode();
    for (;;) {
    }
}
