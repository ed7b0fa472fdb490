/* Classifies three constant iris measurements on a Cortex-M4F. The results
 * land in a volatile array, where a debugger (or a test) can read them. */
#include "iris_model.h"

#if IRIS_N_FEATURES != 4
#error "expected the 4 iris measurements"
#endif

/* sepal length, sepal width, petal length, petal width (cm) */
static const float samples[3][IRIS_N_FEATURES] = {
    {5.1f, 3.5f, 1.4f, 0.2f},
    {5.9f, 2.8f, 4.3f, 1.3f},
    {6.7f, 3.1f, 5.6f, 2.4f},
};

volatile int predicted[3];
const char *volatile predicted_label;

int main(void)
{
    for (int i = 0; i < 3; i++)
        predicted[i] = iris_predict(samples[i]);
    predicted_label = iris_label(predicted[2]);
    for (;;)
        __asm volatile("wfi");
}
