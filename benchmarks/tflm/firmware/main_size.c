/* Minimal single-inference firmware, the one whose flash and RAM are reported: one call of the
 * model, input and output volatile so that the compiler can neither fold nor drop it. No I/O.
 * Built with -DMODEL_HEADER='"sine_mlp.h"' -DMODEL_PREDICT=sine_mlp_predict_value. */
#include MODEL_HEADER

volatile float model_input = 1.0f;
volatile float model_output;

int main(void)
{
    float x[1];

    x[0] = model_input;
    model_output = MODEL_PREDICT(x);
    return 0;
}
