/*
 * gesture_stream.h - the last GESTURE_WINDOW_LENGTH accelerometer samples in a ring buffer, classified
 * on every new sample with gesture_predict_ring(): no copy of the window, no shifting.
 *
 *   static gesture_stream stream;                // zero-initialised: empty
 *   int16_t sample[GESTURE_N_CHANNELS] = {ax, ay, az};
 *   int cls = gesture_stream_push(&stream, sample);   // -1 until the ring is full, then a class index
 *
 * RAM: GESTURE_WINDOW_LENGTH x GESTURE_N_CHANNELS int16 samples (128 x 3 x 2 = 768 bytes) + 4.
 * Valid C99 and C++11.
 */
#ifndef GESTURE_STREAM_H
#define GESTURE_STREAM_H

#include <stdint.h>

#include "gesture_model.h"

typedef struct {
    int16_t ring[GESTURE_WINDOW_LENGTH * GESTURE_N_CHANNELS];
    uint16_t next;     /* slot of the next sample: once the ring is full, the oldest sample's slot */
    uint16_t count;    /* samples received so far, up to GESTURE_WINDOW_LENGTH */
} gesture_stream;

/* Store one sample (GESTURE_N_CHANNELS values, oldest channel first); once GESTURE_WINDOW_LENGTH samples
 * have arrived, classify the last GESTURE_WINDOW_LENGTH of them and return the class, else return -1. */
static inline int gesture_stream_push(gesture_stream *s, const int16_t *sample)
{
    for (uint8_t c = 0; c < GESTURE_N_CHANNELS; c++) {
        s->ring[s->next * GESTURE_N_CHANNELS + c] = sample[c];
    }
    s->next = s->next + 1 == GESTURE_WINDOW_LENGTH ? 0 : (uint16_t)(s->next + 1);
    if (s->count < GESTURE_WINDOW_LENGTH) {
        s->count++;
        if (s->count < GESTURE_WINDOW_LENGTH) {
            return -1;
        }
    }
    return gesture_predict_ring(s->ring, s->next);
}

#endif /* GESTURE_STREAM_H */
