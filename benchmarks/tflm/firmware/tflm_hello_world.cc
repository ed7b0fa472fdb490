// TensorFlow Lite Micro's hello_world, int8 model, as its example runs it: an op resolver with
// FULLY_CONNECTED only and a 3,000-byte arena (the example's kTensorArenaSize). See
// tflm_hello_world.h. Resolver and interpreter must outlive the set-up, as on a chip: they are
// constructed in static storage with placement new, which registers no destructor (a static
// local would call __cxa_atexit, which needs the C++ start files that our start-up replaces).
#include "tflm_hello_world.h"

#include <math.h>
#include <stdint.h>

#include <new>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" const unsigned char g_hello_world_model[];  // hello_world_int8.tflite's bytes

namespace {
using Resolver = tflite::MicroMutableOpResolver<1>;
alignas(16) uint8_t arena[3000];
alignas(Resolver) uint8_t resolver_storage[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter *interpreter;
TfLiteTensor *input, *output;
}  // namespace

extern "C" int tflm_hello_world_setup(void)
{
    Resolver *resolver = new (resolver_storage) Resolver();
    if (resolver->AddFullyConnected() != kTfLiteOk)
        return 1;
    interpreter = new (interpreter_storage)
        tflite::MicroInterpreter(tflite::GetModel(g_hello_world_model), *resolver, arena, sizeof arena);
    if (interpreter->AllocateTensors() != kTfLiteOk)
        return 1;
    input = interpreter->input(0);
    output = interpreter->output(0);
    return 0;
}

extern "C" float tflm_hello_world_predict_value(const float *x)
{
    // As TFLite's QUANTIZE: round(x / scale) + zero point, clamped to int8.
    int32_t q = static_cast<int32_t>(roundf(x[0] / input->params.scale)) + input->params.zero_point;
    input->data.int8[0] = static_cast<int8_t>(q < -128 ? -128 : q > 127 ? 127 : q);
    interpreter->Invoke();
    return static_cast<float>(output->data.int8[0] - output->params.zero_point) * output->params.scale;
}
