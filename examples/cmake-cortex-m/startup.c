/* Minimal Cortex-M4F start-up: the core's 16 exception vectors, .data/.bss
 * set-up, FPU on, then main(). Enough for a firmware that links and boots;
 * a vendor's start-up file (CMSIS) adds the device's interrupt vectors. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss; /* from cortex-m4.ld */
extern uint32_t _estack;
int main(void);

void Reset_Handler(void);

void Default_Handler(void)
{
    for (;;) {
    }
}

__attribute__((section(".isr_vector"), used))
void (*const vector_table[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack, /* initial stack pointer */
    Reset_Handler,
    Default_Handler, /* NMI */
    Default_Handler, /* HardFault */
    Default_Handler, /* MemManage */
    Default_Handler, /* BusFault */
    Default_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;

    /* CPACR: full access to the FPU (CP10, CP11) before the first float
     * instruction; the model's arithmetic is single-precision float. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm volatile("dsb\n\tisb");

    main();
    for (;;) {
    }
}
