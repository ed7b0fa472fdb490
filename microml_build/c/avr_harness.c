/*
 * avr_harness.c - the non-inline half of avr_harness.h (see there for usage).
 */
#include "avr_harness.h"

#include <avr/interrupt.h>
#include <avr/sleep.h>

#ifndef F_CPU
#error "define F_CPU, e.g. -DF_CPU=16000000UL (microml's avr target does)"
#endif

uint8_t *harness_paint_bottom;
uint8_t *harness_paint_top;

static volatile uint16_t timer1_overflows;
static uint32_t cycles_overhead;     /* cycles of an empty start/stop pair */

ISR(TIMER1_OVF_vect)
{
    timer1_overflows++;
}

void harness_cycles_start(void)
{
    TCCR1B = 0;                      /* stopped while we reset it */
    TCCR1A = 0;                      /* normal mode: count 0..0xFFFF, overflow */
    TCNT1 = 0;
    timer1_overflows = 0;
    TIFR1 = _BV(TOV1);               /* clear a stale overflow flag */
    TIMSK1 = _BV(TOIE1);
    sei();
    TCCR1B = _BV(CS10);              /* last: counting at F_CPU starts here */
}

uint32_t harness_cycles_stop(void)
{
    uint8_t sreg = SREG;
    uint16_t overflows, ticks;

    /* Read TCNT1 before stopping the clock: simavr reads a stopped timer as 0. */
    cli();                           /* no overflow interrupt between the reads */
    ticks = TCNT1;                   /* the measurement ends here */
    TCCR1B = 0;
    overflows = timer1_overflows;
    if ((TIFR1 & _BV(TOV1)) && ticks < 0x8000)
        overflows++;                 /* wrapped before the read, interrupt still pending */
    TIFR1 = _BV(TOV1);
    SREG = sreg;
    return (((uint32_t)overflows << 16) | ticks) - cycles_overhead;
}

static int uart_putchar(char c, FILE *stream)
{
    (void)stream;
    loop_until_bit_is_set(UCSR0A, UDRE0);
    UDR0 = c;
    return 0;
}

static FILE uart_stdout;

void harness_init(void)
{
    UBRR0 = (uint16_t)((F_CPU + 4 * HARNESS_BAUD) / (8 * HARNESS_BAUD) - 1);
    UCSR0A = _BV(U2X0);              /* 8 samples per bit: closer baud rates at 16 MHz */
    UCSR0B = _BV(TXEN0);
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);  /* 8N1 */
    fdev_setup_stream(&uart_stdout, uart_putchar, NULL, _FDEV_SETUP_WRITE);
    stdout = &uart_stdout;

    cycles_overhead = 0;
    harness_cycles_start();
    cycles_overhead = harness_cycles_stop();
}

void harness_exit(void)
{
    set_sleep_mode(SLEEP_MODE_IDLE); /* idle keeps the UART sending its last byte */
    cli();
    sleep_enable();
    sleep_cpu();                     /* interrupts off: simavr exits here */
    for (;;) {                       /* a real chip that wakes up stays here */
    }
}

/* exit() (and so a return from main) runs the .fini sections before avr-libc's
 * endless loop in .fini0; stopping here lets simavr exit instead of spinning. */
static void __attribute__((naked, used, section(".fini8"))) halt_on_exit(void)
{
    harness_exit();
}
