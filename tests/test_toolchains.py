"""Real compilers and a real simavr: the toolchain layer and the AVR harness."""

import struct
import subprocess

import pytest
from support import need_simavr, need_tool

from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, SimulationError, f32_from_hex, run_avr
from microml_build.toolchains import ToolchainError, compile, section_sizes

# Valid C99 and C++11; exits with (int)(sqrt(2) * -2) + 10 == 8 on the host.
PROGRAM = """
#include <math.h>
#include <stdint.h>

volatile float input = 2.0f;
static const int16_t table[4] = {1, -2, 3, -4};

float score(float x) { return sqrtf(x) * (float)table[1]; }

int main(void) { return (int)score(input) + 10; }
"""

EM_AVR, EM_ARM = 83, 40
EF_ARM_ABI_FLOAT_SOFT, EF_ARM_ABI_FLOAT_HARD = 0x200, 0x400


def elf_machine_and_flags(path):
    header = path.read_bytes()[:52]
    assert header[:4] == b"\x7fELF"
    machine, = struct.unpack_from("<H", header, 18)
    flags, = struct.unpack_from("<I", header, 36)  # 32-bit ELF layout (AVR, ARM)
    return machine, flags


@pytest.mark.parametrize("lang", ["c", "c++"])
def test_host_program_builds_and_runs(tmp_path, lang):
    need_tool("host", lang)
    source = tmp_path / "prog.c"
    source.write_text(PROGRAM)
    exe = compile([source], tmp_path / "prog", target="host", lang=lang)
    assert subprocess.run([exe]).returncode == 8


@pytest.mark.parametrize("lang", ["c", "c++"])
@pytest.mark.parametrize("target, machine, float_abi", [
    pytest.param("avr", EM_AVR, None, marks=pytest.mark.avr),
    pytest.param("cortex-m4", EM_ARM, EF_ARM_ABI_FLOAT_HARD, marks=pytest.mark.arm),
    pytest.param("cortex-m3", EM_ARM, EF_ARM_ABI_FLOAT_SOFT, marks=pytest.mark.arm),
])
def test_cross_program_links_for_the_right_cpu(tmp_path, target, machine, float_abi, lang):
    need_tool(target, lang)
    source = tmp_path / "prog.c"
    source.write_text(PROGRAM)
    elf = compile([source], tmp_path / "prog.elf", target=target, lang=lang)
    elf_machine, elf_flags = elf_machine_and_flags(elf)
    assert elf_machine == machine
    if float_abi:
        assert elf_flags & float_abi
    sizes = section_sizes(elf, target)
    assert sizes["text"] > 0
    assert sizes["flash"] == sizes["text"] + sizes["data"]
    assert sizes["ram"] == sizes["data"] + sizes["bss"]


@pytest.mark.parametrize("target", ["host", pytest.param("avr", marks=pytest.mark.avr),
                                    pytest.param("cortex-m4", marks=pytest.mark.arm)])
def test_object_section_sizes_are_exact(tmp_path, target):
    need_tool(target)
    source = tmp_path / "tables.c"
    source.write_text("""
#include <stdint.h>
const uint8_t table[300] = {1};      /* read-only: text */
uint8_t counters[200] = {0};         /* zeroed: bss */
uint8_t weights[40] = {1, 2, 3};     /* initialised: data */
uint8_t first(void) { return table[0] + counters[0] + weights[0]; }
""")
    obj = compile([source], tmp_path / "tables.o", target=target, link=False)
    sizes = section_sizes(obj, target)
    assert sizes["data"] == 40
    assert sizes["bss"] == 200
    assert sizes["text"] >= 300
    assert sizes["flash"] == sizes["text"] + 40
    assert sizes["ram"] == 240


def test_warnings_are_errors_and_reported_in_full(tmp_path):
    need_tool("host")
    source = tmp_path / "warn.c"
    source.write_text("int main(void) { int unused_thing; return 0; }\n")
    with pytest.raises(ToolchainError) as failure:
        compile([source], tmp_path / "warn", target="host")
    message = str(failure.value)
    assert "-Werror" in message  # the command line
    assert "unused_thing" in message  # the compiler's diagnostic
    assert not (tmp_path / "warn").exists()


# Prints key=value lines; everything the harness promises is measured once here.
FIRMWARE = r"""
#include "avr_harness.h"
#include <util/delay_basic.h>

volatile float one = 1.0f, three = 3.0f, tenth = 0.1f, fifth = 0.2f;
volatile uint8_t sink;

__attribute__((noinline)) static uint8_t plain(uint8_t x) { return x + 1; }

__attribute__((noinline)) static uint8_t with_array(uint8_t x)
{
    volatile uint8_t buf[100];
    for (uint8_t i = 0; i < 100; i++)
        buf[i] = x + i;
    return buf[x];
}

static uint32_t cycles_of_delay_loop(uint16_t n)   /* 4 cycles per iteration */
{
    harness_cycles_start();
    _delay_loop_2(n);
    return harness_cycles_stop();
}

int main(void)
{
    uint32_t empty, nops;

    harness_init();
    printf("i16=%d,%d\n", -32767 - 1, 32767);   /* int is 16 bits */
    printf("u32=%lu\n", 4294967295UL);
    printf("i32=%ld\n", -2000000000L);
    printf("third=%08lx\n", (unsigned long)harness_f32_bits(one / three));
    printf("product=%08lx\n", (unsigned long)harness_f32_bits(tenth * fifth));

    harness_cycles_start();
    empty = harness_cycles_stop();
    harness_cycles_start();
    __asm__ __volatile__("nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop");
    nops = harness_cycles_stop();
    printf("empty=%lu\nnops=%lu\n", (unsigned long)empty, (unsigned long)nops);
    printf("loop10k=%lu\n", (unsigned long)cycles_of_delay_loop(10000));
    printf("loop40k=%lu\n", (unsigned long)cycles_of_delay_loop(40000));

    harness_stack_paint();
    printf("nothing=%u\n", harness_stack_used());
    harness_stack_paint();
    sink = plain(3);
    printf("plain=%u\n", harness_stack_used());
    harness_stack_paint();
    sink = with_array(3);
    printf("array=%u\n", harness_stack_used());
    harness_exit();
}
"""


def build_avr(tmp_path, source_text, lang="c"):
    need_tool("avr", lang)
    need_simavr()
    source = tmp_path / "fw.c"
    source.write_text(source_text)
    return compile([source, *HARNESS_SOURCES], tmp_path / "fw.elf", target="avr", lang=lang,
                   include_dirs=[HARNESS_DIR])


@pytest.fixture(scope="module", params=["c", "c++"])
def firmware(request, tmp_path_factory):
    """The firmware's key=value lines, built once per language."""
    elf = build_avr(tmp_path_factory.mktemp(f"fw-{request.param}"), FIRMWARE, request.param)
    text = run_avr(elf, timeout=20)
    assert text.endswith("\n")
    return dict(line.split("=", 1) for line in text.splitlines())


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


@pytest.mark.avr
@pytest.mark.simavr
def test_integers_come_back_exactly(firmware):
    assert firmware["i16"] == "-32768,32767"
    assert firmware["u32"] == "4294967295"
    assert firmware["i32"] == "-2000000000"


@pytest.mark.avr
@pytest.mark.simavr
def test_float_bits_come_back_exactly(firmware):
    # +, *, / are correctly rounded, so float32 on AVR must match these bit for bit
    assert f32_from_hex(firmware["third"]) == f32(f32(1.0) / f32(3.0))
    assert f32_from_hex(firmware["product"]) == f32(f32(0.1) * f32(0.2))
    assert firmware["third"] == "3eaaaaab"


@pytest.mark.avr
@pytest.mark.simavr
def test_cycle_counter_overhead_is_calibrated_out(firmware):
    assert int(firmware["empty"]) == 0
    assert int(firmware["nops"]) == 10


@pytest.mark.avr
@pytest.mark.simavr
def test_cycle_counter_is_proportional_across_timer_overflows(firmware):
    short, long = int(firmware["loop10k"]), int(firmware["loop40k"])
    assert abs(short - 4 * 10_000) <= 16  # one timer period: exact up to call setup
    assert 3.99 < long / short < 4.01  # 160k cycles: two Timer1 overflows in between


@pytest.mark.avr
@pytest.mark.simavr
def test_stack_painting_sees_a_100_byte_local_array(firmware):
    assert int(firmware["nothing"]) == 0
    plain, array = int(firmware["plain"]), int(firmware["array"])
    assert plain >= 2  # at least the return address
    assert array >= 100
    assert array - plain >= 100


@pytest.mark.avr
@pytest.mark.simavr
def test_returning_from_main_also_ends_the_simulation(tmp_path):
    elf = build_avr(tmp_path, '#include "avr_harness.h"\n'
                              'int main(void) { harness_init(); printf("done\\n"); return 0; }\n')
    assert run_avr(elf, timeout=20) == "done\n"


@pytest.mark.avr
@pytest.mark.simavr
def test_crash_is_reported_with_the_output_so_far(tmp_path):
    elf = build_avr(tmp_path, '#include "avr_harness.h"\n'
                              'int main(void) {\n'
                              '    harness_init();\n'
                              '    printf("before\\n");\n'
                              '    ((void (*)(void))0x3ff0)();   /* into erased flash */\n'
                              '    harness_exit();\n'
                              '}\n')
    with pytest.raises(SimulationError, match="crashed") as failure:
        run_avr(elf, timeout=20)
    assert failure.value.firmware_output == "before\n"


@pytest.mark.avr
@pytest.mark.simavr
def test_firmware_that_never_halts_times_out(tmp_path):
    elf = build_avr(tmp_path, '#include "avr_harness.h"\n'
                              'int main(void) { harness_init(); printf("spinning\\n"); for (;;) {} }\n')
    with pytest.raises(SimulationError, match="did not halt") as failure:
        run_avr(elf, timeout=0.5)
    assert failure.value.firmware_output == "spinning\n"


@pytest.mark.avr
@pytest.mark.simavr
def test_overlong_line_is_rejected(tmp_path):
    elf = build_avr(tmp_path, '#include "avr_harness.h"\n'
                              'int main(void) {\n'
                              '    harness_init();\n'
                              '    for (int i = 0; i < 300; i++) putchar(\'x\');\n'
                              '    putchar(\'\\n\');\n'
                              '    harness_exit();\n'
                              '}\n')
    with pytest.raises(SimulationError, match="split"):
        run_avr(elf, timeout=20)
