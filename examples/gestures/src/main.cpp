// Gesture recognition on an Arduino Uno from a 3-axis analog accelerometer (an ADXL335 on A0, A1, A2),
// sampled at 25 Hz. Every new sample goes into a ring buffer of the last 128; the header computes the
// window features and runs the forest on the ring in place, and the gesture is printed when it changes.
// The header (include/gesture_model.h) comes from `microml build microml.yaml` after `python make_data.py`.
#include <Arduino.h>

#include "gesture_model.h"
#include "gesture_stream.h"

static const unsigned long PERIOD_MS = 40;   // 25 Hz, the rate of the training data

static gesture_stream stream;                // 768 bytes of samples
static int shown = -1;

// ADXL335 at 3.3 V read with the Uno's 5 V reference: 0 g at about 338 counts, 330 mV/g = 67.5 counts/g.
static int16_t milli_g(int counts) {
    return (int16_t)((long)(counts - 338) * 1000L / 68L);
}

void setup() {
    Serial.begin(115200);
    Serial.println(F("gestures: rest, shake, circle or tap the board"));
}

void loop() {
    static unsigned long due = 0;
    if (millis() - due < PERIOD_MS) {
        return;
    }
    due += PERIOD_MS;
    int16_t sample[GESTURE_N_CHANNELS];
    for (uint8_t c = 0; c < GESTURE_N_CHANNELS; c++) {
        sample[c] = milli_g(analogRead(A0 + c));
    }
    const int cls = gesture_stream_push(&stream, sample);   // about 5 ms at 16 MHz: well inside 40 ms
    if (cls >= 0 && cls != shown) {
        shown = cls;
        Serial.println(gesture_label_F(cls));   // the name stays in flash
    }
}
