/*
 * magic_wand on an Arduino Uno (ATmega328P, 16 MHz): TensorFlow Lite Micro's gesture demo with a MicroML model.
 *
 * Every new accelerometer sample (x, y, z in milli-g, 25 per second) goes into a ring buffer of the last 128;
 * once the ring is full, every sample runs wand_predict_ring() (84 window features and a linear SVM, from the
 * generated include/wand_model.h) on the window ending at that sample, and TensorFlow's post-processing
 * (gesture_predictor.cc) decides whether a gesture was made: a gesture is reported when the average of its
 * last 5 predictions reaches 0.8 and the previous report was at least 25 inferences ago. The model votes
 * (its predict(), one-hot) rather than giving probabilities, so "average of 5 one-hot votes >= 0.8" is
 * "at least 4 of the last 5 predictions" (4 / 5 = 0.8f exactly passes TensorFlow's `< 0.8f` test).
 *
 * The samples come in over the serial port at 115200 baud, one per line, "x,y,z\n" (whole milli-g, as
 * TensorFlow's recordings hold them), so recordings can be replayed into a real board or into simavr. After
 * each sample the firmware answers one line, and the host sends the next sample only then:
 *   "-"                          the ring is not full yet (the first 127 samples)
 *   "<class> <cycles>"           the class index of the window (WAND_CLASS_*), and the CPU cycles of that
 *                                inference (Timer1), e.g. "3 223104"
 *   "<class> <cycles> <gesture>" the same when the post-processing reports a gesture, e.g. "3 223104 wing"
 *   "error"                      the line was not three whole numbers in -32768..32767 (it is ignored)
 * A line starting with '?' answers "ram=<static RAM> stack=<peak stack> inferences=<n>": static RAM is what the
 * linker placed in .data and .bss, peak stack the deepest byte below the top of RAM ever written since reset
 * (the free RAM is painted at start-up), so ram + stack is all the RAM the firmware has used.
 *
 * Build (from examples/magic-wand, after `microml build`):
 *   avr-gcc -mmcu=atmega328p -Os -DF_CPU=16000000UL -ffp-contract=off -std=c99 -Wall -Wextra -Werror \
 *           -Iinclude firmware/wand.c -o wand.elf -lm
 */
#include <stdint.h>

#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/pgmspace.h>

#include "wand_model.h"

#define BAUD 115200UL
#define STACK_PAINT 0xC5

/* TensorFlow's post-processing constants (magic_wand/constants.h). */
#define HISTORY 5          /* kPredictionHistoryLength */
#define VOTES_NEEDED 4     /* kDetectionThreshold 0.8 of HISTORY one-hot votes */
#define SUPPRESSION 25     /* kPredictionSuppressionDuration */
#define NO_VOTE 0xFF       /* an empty history slot: TensorFlow's history starts as zeros */

static int16_t ring[WAND_WINDOW_LENGTH * WAND_N_CHANNELS];   /* the last 128 samples, interleaved x, y, z */
static uint8_t next_slot;                                     /* where the next sample goes: the oldest one */
static uint8_t filled;                                        /* samples in the ring, up to 128 */
static uint8_t history[HISTORY] = {NO_VOTE, NO_VOTE, NO_VOTE, NO_VOTE, NO_VOTE};
static uint8_t history_slot;
static uint8_t suppression;
static uint32_t inferences;
static volatile uint16_t timer_overflows;

extern uint8_t __heap_start;    /* the end of .bss, from the linker */

/* Runs before .data and .bss are set up, with the stack pointer at the top of RAM and nothing on the stack:
 * fill the free RAM with a pattern, so that the deepest byte the stack ever reaches can be found later. */
static void __attribute__((naked, used, section(".init3"))) paint_stack(void)
{
    uint8_t *p = &__heap_start;
    while (p <= (uint8_t *)RAMEND) {
        *p++ = STACK_PAINT;
    }
}

static uint16_t peak_stack(void)
{
    const volatile uint8_t *p = &__heap_start;
    while (p <= (const uint8_t *)RAMEND && *p == STACK_PAINT) {
        p++;
    }
    return (uint16_t)((const uint8_t *)RAMEND + 1 - (const uint8_t *)p);
}

/* --- serial port, polled ---------------------------------------------------------------------------- */

static void serial_init(void)
{
    UBRR0 = (uint16_t)((F_CPU + 4 * BAUD) / (8 * BAUD) - 1);
    UCSR0A = _BV(U2X0);
    UCSR0B = _BV(RXEN0) | _BV(TXEN0);
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);     /* 8N1 */
}

static uint8_t serial_read(void)
{
    loop_until_bit_is_set(UCSR0A, RXC0);
    return UDR0;
}

static void serial_write(char c)
{
    loop_until_bit_is_set(UCSR0A, UDRE0);
    UDR0 = (uint8_t)c;
}

static void print_text(const char *text)      /* text in RAM */
{
    while (*text) {
        serial_write(*text++);
    }
}

static void print_flash(const char *text)      /* text in flash: PSTR("...") keeps it out of RAM */
{
    char c;
    while ((c = (char)pgm_read_byte(text++)) != 0) {
        serial_write(c);
    }
}

static void print_number(uint32_t value)
{
    char digits[10];
    uint8_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n != 0) {
        serial_write(digits[--n]);
    }
}

/* --- cycle counter: Timer1 at the CPU clock, its overflows counted -------------------------------------- */

ISR(TIMER1_OVF_vect)
{
    timer_overflows++;
}

static void cycles_start(void)
{
    TCCR1B = 0;
    TCCR1A = 0;
    TCNT1 = 0;
    timer_overflows = 0;
    TIFR1 = _BV(TOV1);
    TIMSK1 = _BV(TOIE1);
    TCCR1B = _BV(CS10);
}

static uint32_t cycles_stop(void)
{
    uint16_t ticks, overflows;
    cli();
    ticks = TCNT1;
    TCCR1B = 0;
    overflows = timer_overflows;
    if ((TIFR1 & _BV(TOV1)) && ticks < 0x8000) {
        overflows++;                 /* wrapped just before the read, interrupt still pending */
    }
    sei();
    return ((uint32_t)overflows << 16) | ticks;
}

/* --- TensorFlow's post-processing, on one-hot votes ------------------------------------------------------ */

/* gesture_predictor.cc's PredictGesture with the model's class as a one-hot score: the class holding at least
 * VOTES_NEEDED of the last HISTORY votes, unless it is "negative" or a gesture was reported within the last
 * SUPPRESSION inferences. Returns the class index, or -1 for no gesture. */
static int8_t post_process(uint8_t vote)
{
    uint8_t votes[WAND_N_CLASSES] = {0};
    int8_t best = -1;
    history[history_slot] = vote;
    history_slot = history_slot + 1 == HISTORY ? 0 : history_slot + 1;
    for (uint8_t i = 0; i < HISTORY; i++) {
        if (history[i] != NO_VOTE && ++votes[history[i]] >= VOTES_NEEDED) {
            best = (int8_t)history[i];       /* at most one class can hold 4 of 5 votes */
        }
    }
    if (suppression > 0) {
        suppression--;                       /* counted down at every inference, as TensorFlow does */
    }
    if (best < 0 || best == WAND_CLASS_NEGATIVE || suppression > 0) {
        return -1;
    }
    suppression = SUPPRESSION;
    return best;
}

/* --- one sample in, one line out ------------------------------------------------------------------------- */

static void on_sample(const int16_t sample[WAND_N_CHANNELS])
{
    for (uint8_t c = 0; c < WAND_N_CHANNELS; c++) {
        ring[next_slot * WAND_N_CHANNELS + c] = sample[c];
    }
    next_slot = next_slot + 1 == WAND_WINDOW_LENGTH ? 0 : next_slot + 1;
    if (filled < WAND_WINDOW_LENGTH) {
        filled++;
    }
    if (filled < WAND_WINDOW_LENGTH) {
        print_flash(PSTR("-\n"));
        return;
    }
    cycles_start();
    const uint8_t cls = (uint8_t)wand_predict_ring(ring, next_slot);   /* the oldest sample is at next_slot */
    const uint32_t cycles = cycles_stop();
    const int8_t gesture = post_process(cls);
    inferences++;
    print_number(cls);
    serial_write(' ');
    print_number(cycles);
    if (gesture >= 0) {
        char name[WAND_LABEL_SIZE];
        wand_label_copy(gesture, name, sizeof name);
        serial_write(' ');
        print_text(name);
    }
    serial_write('\n');
}

static void report(void)
{
    print_flash(PSTR("ram="));
    print_number((uint16_t)&__heap_start - RAMSTART);
    print_flash(PSTR(" stack="));
    print_number(peak_stack());
    print_flash(PSTR(" inferences="));
    print_number(inferences);
    serial_write('\n');
}

int main(void)
{
    int16_t sample[WAND_N_CHANNELS];
    int32_t value = 0;
    uint8_t channel = 0, digits = 0, negative = 0, bad = 0, first = 1;

    serial_init();
    sei();
    print_flash(PSTR("magic_wand ready\n"));
    for (;;) {
        const uint8_t c = serial_read();
        if (first && c == '?') {
            bad = 2;                         /* a report request: the rest of the line is ignored */
        } else if (c >= '0' && c <= '9') {
            if (++digits > 5) {
                bad |= 1;
            } else {
                value = value * 10 + (c - '0');
                bad |= value > 32768;
            }
        } else if (c == '-' && digits == 0 && !negative) {
            negative = 1;
        } else if (c == ',' || c == '\n') {
            bad |= digits == 0 || channel == WAND_N_CHANNELS || (!negative && value > 32767);
            if (!bad) {
                sample[channel] = (int16_t)(negative ? -value : value);
            }
            channel++;
            value = 0;
            digits = negative = 0;
        } else if (c != '\r' && c != ' ') {
            bad |= 1;
        }
        first = 0;
        if (c == '\n') {
            if (bad & 2) {
                report();
            } else if (bad || channel != WAND_N_CHANNELS) {
                print_flash(PSTR("error\n"));
            } else {
                on_sample(sample);
            }
            channel = 0;
            bad = 0;
            first = 1;
        }
    }
}
