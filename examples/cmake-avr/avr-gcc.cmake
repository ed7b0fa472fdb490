# Toolchain file: ATmega328P (Arduino Uno) at 16 MHz with avr-gcc + avr-libc.
#   cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=avr-gcc.cmake -DMicroML_DIR="$(microml cmake-dir)"
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR avr)

set(CMAKE_C_COMPILER avr-gcc)
set(CMAKE_CXX_COMPILER avr-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(AVR_MCU atmega328p CACHE STRING "avr-gcc -mmcu value")
set(AVR_F_CPU 16000000UL CACHE STRING "CPU clock in Hz (F_CPU)")
set(CMAKE_C_FLAGS_INIT "-mmcu=${AVR_MCU} -DF_CPU=${AVR_F_CPU} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-mmcu=${AVR_MCU} -Wl,--gc-sections")

# Libraries and headers from the toolchain; programs (the host Python that
# runs the model generator, for one) from the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
