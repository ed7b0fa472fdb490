"""A wrong value gets a suggestion by meaning where MicroML knows the aliases (MCU families, boards, precisions),
by spelling otherwise."""

import pytest

from microml_build.config import load_config
from microml_build.errors import MicroMLError
from microml_build.pipeline.build import Log, build


def fix_for(project, key: str, value: str) -> MicroMLError:
    yaml = (project / "microml.yaml").read_text().replace("  mcu: avr\n", f"  {key}: {value}\n")
    (project / "microml.yaml").write_text(yaml)
    with pytest.raises(MicroMLError) as err:
        load_config(project / "microml.yaml")
    assert err.value.file == "microml.yaml" and err.value.key == f"target.{key}"
    return err.value


@pytest.mark.parametrize("value,meant", [
    ("stm32", "arm"), ("STM32F411", "arm"), ("nrf52840", "arm"), ("samd21", "arm"), ("rp2040", "arm"),
    ("teensy", "arm"), ("cortex-m4", "arm"), ("atmega328p", "avr"), ("attiny85", "avr"), ("arduino", "avr"),
    ("esp32-s3", "esp32"), ("x86_64", "host"), ("linux", "host"), ("native", "host"), ("armm", "arm")])
def test_mcu_families_by_meaning(project, value, meant):
    err = fix_for(project, "mcu", value)
    assert err.fix.startswith(f"did you mean '{meant}'?"), err.fix


@pytest.mark.parametrize("value,meant", [
    ("fixed32", "float"), ("double", "float"), ("float32", "float"), ("float64", "float"), ("int16", "fixed16"),
    ("q15", "fixed16"), ("int8", "fixed8"), ("q7", "fixed8"), ("fixd16", "fixed16"), ("int4-vectors", "int8-vectors"),
    ("int4", "fixed8"), ("int16_vectors", "int16-vectors")])
def test_precisions_by_meaning(project, value, meant):
    yaml = (project / "microml.yaml").read_text().replace("  mcu: avr\n", "  mcu: avr\n  precision: " + value + "\n")
    (project / "microml.yaml").write_text(yaml)
    with pytest.raises(MicroMLError) as err:
        load_config(project / "microml.yaml")
    assert err.value.key == "target.precision" and err.value.fix.startswith(f"did you mean '{meant}'?"), err.value.fix


@pytest.mark.parametrize("value,meant", [
    ("arduino_uno", "uno"), ("Arduino Uno R3", "uno"), ("nanoatmega328", "nano"), ("mega2560", "mega"),
    ("nano_33_ble", "nano33ble"), ("raspberry-pi-pico", "pico"), ("esp32dev", "esp32"), ("unoo", "uno")])
def test_boards_by_meaning(project, value, meant):
    err = fix_for(project, "board", value)
    assert err.fix.startswith(f"did you mean '{meant}'?"), err.fix


@pytest.mark.parametrize("value,family", [("stm32", "arm"), ("bluepill_f103c8", "arm"), ("teensy41", "arm"),
                                          ("attiny85", "avr")])
def test_unknown_board_of_a_known_family_points_to_mcu_and_budget(project, value, family):
    err = fix_for(project, "board", value)
    assert f"mcu: {family}" in err.fix and "target.budget.flash" in err.fix, err.fix
    assert "did you mean" not in err.fix
    assert f"for an {family} board" in err.fix, err.fix


def test_command_line_board_and_mcu_get_the_same_suggestions(project):
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", mcu="stm32", log=Log(quiet=True))
    assert err.value.key == "--mcu" and err.value.fix.startswith("did you mean 'arm'?"), err.value.fix
    with pytest.raises(MicroMLError) as err:
        build(project / "microml.yaml", board="arduino uno", log=Log(quiet=True))
    assert err.value.key == "--board" and err.value.fix.startswith("did you mean 'uno'?"), err.value.fix
