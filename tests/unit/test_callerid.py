"""Caller ID names the switches can carry (SW-2)."""

from __future__ import annotations

from switch_control.drivers.callerid import MAX_NAME, safe_caller_name
from switch_control.drivers.freeswitch.media import brace_vars


def test_reserved_characters_become_full_width_look_alikes():
    assert safe_caller_name('Wang, Li "VIP" <x>') == "Wang， Li ”VIP” ＜x＞"
    assert safe_caller_name("O'Brien {a} [b] \\ ^") == "O’Brien （a） （b） ＼ ＾"


def test_chinese_names_and_plain_names_pass_unchanged():
    assert safe_caller_name("张三") == "张三"
    assert safe_caller_name("客服 中心") == "客服 中心"
    assert safe_caller_name("Alice") == "Alice"


def test_control_characters_and_runs_of_space_collapse_and_length_is_capped():
    assert safe_caller_name("  a\tb\r\nc\x00d  ") == "a b c d"
    assert len(safe_caller_name("名" * 200)) == MAX_NAME
    assert safe_caller_name("") == ""


def test_the_result_always_fits_a_freeswitch_originate_block():
    for name in ('Wang, Li\'s "VIP" {x} [y] \\ ^', "a,b,c", "'quoted'", "{}[]"):
        assert brace_vars({"origination_caller_id_name": safe_caller_name(name)})
