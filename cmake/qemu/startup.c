/*
 * startup.c: reset code and vector table for firmware run under qemu-system-arm
 * (mlf::qemu_support).
 *
 * Reset_Handler does everything newlib's rdimon crt0 (_start) would do, but by itself, so that
 * nothing depends on crt0 taking the stack from semihosting HEAPINFO (it would not be where the
 * linker script puts it):
 *   1. enable the FPU / MVE (CPACR) when the code may use them, before any such instruction;
 *   2. copy .data from its load address in flash, zero .bss (including every .bss.* input section);
 *   3. cap the heap: rdimon's _sbrk grows from `end` and refuses to pass __heap_limit (and sp);
 *   4. initialise_monitor_handles() (semihosting stdin/stdout/stderr), atexit(__libc_fini_array),
 *      __libc_init_array() (constructors), then exit(main(argc, argv)).
 * exit() flushes stdio and ends QEMU through semihosting SYS_EXIT_EXTENDED, so main's return value
 * becomes QEMU's exit code. Any fault or unexpected interrupt prints one line to the semihosting
 * console and exits with code 99 (no hang); RAM missing at the linker script's address exits 98.
 *
 * Linking: GCC's usual start files stay in (crti/crtbegin/crtend/crtn give _init/_fini and
 * __dso_handle). rdimon's crt0 is linked by rdimon.specs, but its _start is never called: the
 * linker script's ENTRY and the vector table name Reset_Handler, and --gc-sections drops _start.
 * This is cleaner than -nostartfiles, which would need stubs for those symbols.
 *
 * All handlers are weak aliases of Default_Handler (CMSIS names), so firmware can override them.
 * Warning-free with -Wall -Wextra -Wpedantic for every supported CPU; compile it as C.
 */
#include <stdint.h>
#include <stdlib.h>

/* Symbols from the linker script (cmake/qemu/mlf_qemu_sections.ld). */
extern uint32_t __data_load__, __data_start__, __data_end__;
extern uint32_t __bss_start__, __bss_end__;
extern uint32_t __ram_start__, __heap_end__, __StackTop;

/* newlib / rdimon. __heap_limit is a variable in rdimon's syscalls; weak so other libgloss work. */
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
extern void __libc_fini_array(void);
extern unsigned int __heap_limit __attribute__((weak));
extern int main(int argc, char **argv);

void Reset_Handler(void) __attribute__((noreturn));
void Default_Handler(void) __attribute__((naked));
void mlf_qemu_fault_exit(const uint32_t *frame) __attribute__((used, noreturn));

#define SEMIHOSTING_SYS_WRITE0 0x04u
#define SEMIHOSTING_SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

static inline __attribute__((always_inline)) uint32_t semihost(uint32_t op, const void *arg) {
  register uint32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void Reset_Handler(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  /* CP10+CP11 full access. MVE needs it too, even integer-only MVE without __ARM_FP. */
  SCB_CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  /* A linker script for another machine puts RAM where there is none, and QEMU ignores those
   * writes: the first return would jump to 0. Check before any call (nothing on the stack yet). */
  static const uint32_t no_ram_exit[2] = {ADP_STOPPED_APPLICATION_EXIT, 98u};
  volatile uint32_t *probe = &__ram_start__;
  *probe = 0x4D4C4651u;
  if (*probe != 0x4D4C4651u) {
    semihost(SEMIHOSTING_SYS_WRITE0,
             "mlf_qemu_support: no RAM where the linker script puts it "
             "(script for another QEMU machine?), exit 98\n");
    semihost(SEMIHOSTING_SYS_EXIT_EXTENDED, no_ram_exit);
  }

  const uint32_t *src = &__data_load__;
  uint32_t *dst = &__data_start__;
  if (src != dst) {
    while (dst < &__data_end__)
      *dst++ = *src++;
  }
  for (dst = &__bss_start__; dst < &__bss_end__;)
    *dst++ = 0;

  if (&__heap_limit != 0)
    __heap_limit = (unsigned int)(uintptr_t)&__heap_end__;

  initialise_monitor_handles();
  atexit(__libc_fini_array);
  __libc_init_array();

  static char prog[] = "firmware";
  static char *argv[] = {prog, 0};
  exit(main(1, argv));
}

/* Tiny formatter: this runs after a fault, so it must not touch the heap or stdio. */
static char *put_hex(char *p, uint32_t v) {
  *p++ = '0';
  *p++ = 'x';
  for (int shift = 28; shift >= 0; shift -= 4)
    *p++ = "0123456789abcdef"[(v >> shift) & 0xFu];
  return p;
}

void mlf_qemu_fault_exit(const uint32_t *frame) {
  static char msg[96];
  static const uint32_t exit_block[2] = {ADP_STOPPED_APPLICATION_EXIT, 99u};
  uint32_t ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));

  const char *text = "mlf_qemu_support: unhandled exception ";
  char *p = msg;
  while (*text)
    *p++ = *text++;
  p = put_hex(p, ipsr & 0x1FFu);
  /* The stacked PC is frame[6], if the exception frame landed in RAM at all. */
  if (frame >= &__ram_start__ && frame + 8 <= &__StackTop) {
    for (text = " at pc "; *text;)
      *p++ = *text++;
    p = put_hex(p, frame[6]);
  }
  for (text = ", exit 99\n"; *text;)
    *p++ = *text++;
  *p = '\0';
  semihost(SEMIHOSTING_SYS_WRITE0, msg);
  semihost(SEMIHOSTING_SYS_EXIT_EXTENDED, exit_block);
  for (;;) {
  }
}

/* Naked: hand the exception frame (main stack) to C before anything is pushed. ldr+bx rather
 * than b: a Thumb-1 (ARMv6-M) branch reaches only +-2 KiB. */
void Default_Handler(void) {
  __asm__ volatile(
      "mrs r0, msp\n\t"
      "ldr r1, =mlf_qemu_fault_exit\n\t"
      "bx r1\n\t"
      ".ltorg\n");
}

#define MLF_WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("Default_Handler")))
MLF_WEAK_HANDLER(NMI_Handler);
MLF_WEAK_HANDLER(HardFault_Handler);
MLF_WEAK_HANDLER(MemManage_Handler);
MLF_WEAK_HANDLER(BusFault_Handler);
MLF_WEAK_HANDLER(UsageFault_Handler);
MLF_WEAK_HANDLER(SecureFault_Handler);
MLF_WEAK_HANDLER(SVC_Handler);
MLF_WEAK_HANDLER(DebugMon_Handler);
MLF_WEAK_HANDLER(PendSV_Handler);
MLF_WEAK_HANDLER(SysTick_Handler);
MLF_WEAK_HANDLER(IRQ0_Handler);
MLF_WEAK_HANDLER(IRQ1_Handler);
MLF_WEAK_HANDLER(IRQ2_Handler);
MLF_WEAK_HANDLER(IRQ3_Handler);
MLF_WEAK_HANDLER(IRQ4_Handler);
MLF_WEAK_HANDLER(IRQ5_Handler);
MLF_WEAK_HANDLER(IRQ6_Handler);
MLF_WEAK_HANDLER(IRQ7_Handler);

/* Entry 0 is the initial stack pointer, a data address: a union keeps this ISO C. */
typedef union {
  void (*handler)(void);
  const void *stack_top;
} mlf_vector_t;

/* 16 system entries + 8 IRQs = 24 words, at the address the CPU reads on reset (the linker script
 * puts .vectors first at VTOR's reset value and asserts it). */
__attribute__((section(".vectors"), used)) const mlf_vector_t mlf_qemu_vectors[16 + 8] = {
    {.stack_top = &__StackTop},
    {Reset_Handler},
    {NMI_Handler},
    {HardFault_Handler},
    {MemManage_Handler},
    {BusFault_Handler},
    {UsageFault_Handler},
    {SecureFault_Handler},
    {0},
    {0},
    {0},
    {SVC_Handler},
    {DebugMon_Handler},
    {0},
    {PendSV_Handler},
    {SysTick_Handler},
    {IRQ0_Handler},
    {IRQ1_Handler},
    {IRQ2_Handler},
    {IRQ3_Handler},
    {IRQ4_Handler},
    {IRQ5_Handler},
    {IRQ6_Handler},
    {IRQ7_Handler},
};
