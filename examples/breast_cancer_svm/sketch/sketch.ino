// Breast-cancer classifier on an Arduino Uno: send 30 comma-separated features over
// Serial (115200 baud) and get the diagnosis back. Copy include/cancer_model.h next to
// this sketch (or let the PlatformIO/CMake integration generate it).
#include "cancer_model.h"

static float features[CANCER_N_FEATURES];

void setup() {
  Serial.begin(115200);
  Serial.print(F("send "));
  Serial.print(CANCER_N_FEATURES);
  Serial.println(F(" comma-separated features"));
}

void loop() {
  for (int i = 0; i < CANCER_N_FEATURES; i++) {
    while (!Serial.available()) {
    }
    features[i] = Serial.parseFloat();
  }
  const int diagnosis = cancer_predict(features);
  Serial.print(F("diagnosis: "));
  // Labels live in flash (PROGMEM): cancer_label_F() prints them from there, as F("...") does.
  Serial.println(cancer_label_F(diagnosis));
}
