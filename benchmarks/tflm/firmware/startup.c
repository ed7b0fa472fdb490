/* Minimal Cortex-M start-up, no CMSIS: the 16 core exception vectors, .data copy, .bss zero,
 * FPU on when the build uses it (Cortex-M4F), then main(). Every firmware of the benchmark,
 * the empty one included, starts with exactly this. A fault ends a qemu run with exit code 3
 * (semihosting) when FAULT_EXITS_QEMU is defined; on a chip it just stops. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack; /* from cortex_m.ld */
int main(void);
void Reset_Handler(void);

void Default_Handler(void)
{
#ifdef FAULT_EXITS_QEMU
    /* SYS_EXIT(ADP_Stopped_InternalError): qemu exits with a non-zero code. */
    register uint32_t r0 __asm__("r0") = 0x18u;
    register uint32_t r1 __asm__("r1") = 0x20024u;
    __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
#endif
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

/* no-tree-loop-distribute-patterns: GCC would otherwise turn the two loops into memcpy() and
 * memset() calls, 400 bytes of library that a start-up file does not need. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
#ifdef __ARM_FP
    /* CPACR: full access to CP10/CP11 (the FPU) before the first float instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    main();
    for (;;) {
    }
}
