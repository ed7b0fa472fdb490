/* TensorFlow Lite Micro's hello_world int8 model behind the interface of a MicroML header, so
 * that the clones' own firmware (main_size.c, main_probe.c) measures TFLM as well:
 *   -DMODEL_HEADER='"tflm_hello_world.h"' -DMODEL_SETUP=tflm_hello_world_setup
 *   -DMODEL_PREDICT=tflm_hello_world_predict_value
 * and link tflm_hello_world.cc, the model's bytes (g_hello_world_model) and TFLM's library. */
#ifndef TFLM_HELLO_WORLD_H
#define TFLM_HELLO_WORLD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Once, before the first inference: the interpreter allocates its tensors in the arena.
 * 0 on success. */
int tflm_hello_world_setup(void);

/* One inference: x[0] quantized with the input tensor's scale and zero point, Invoke(), the
 * int8 output dequantized with the output tensor's. */
float tflm_hello_world_predict_value(const float *x);

#ifdef __cplusplus
}
#endif

#endif /* TFLM_HELLO_WORLD_H */
