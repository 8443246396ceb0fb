import pandas as pd
import pytest

from audit_engine.access.masking import mask_id, mask_name
from audit_engine.codes import citizen_id, code_list


def test_check_digit_matches_published_example():
    # GB 11643-1999 appendix example: 11010519491231002X
    assert citizen_id.check_char("11010519491231002") == "X"
    assert citizen_id.is_valid("11010519491231002X")
    assert not citizen_id.is_valid("110105194912310021")


def test_make_builds_valid_numbers_with_sex_parity():
    n = citizen_id.make("320831", "19900115", 123)
    assert citizen_id.is_valid(n) and citizen_id.sex_code(n) == "1" and citizen_id.birth_date(n) == "19900115"
    assert citizen_id.sex_code(citizen_id.make("320831", "19900115", 124)) == "2"


def test_vectorised_validity_agrees_with_scalar():
    numbers = [citizen_id.make("320831", f"19{y:02d}0101", s) for y in range(50, 99) for s in (1, 2)]
    broken = [n[:5] + str((int(n[5]) + 1) % 10) + n[6:] for n in numbers]
    series = pd.Series(numbers + broken + [None, "123", "11010519491231002x"])
    got = citizen_id.valid_mask(series)
    assert list(got) == [citizen_id.is_valid(x) if isinstance(x, str) else False for x in series]
    assert got[: len(numbers)].all() and not got[len(numbers):].any()


def test_masking_never_shows_the_middle():
    assert mask_id("32010219900101123X") == "3201**********123X"
    assert mask_name("张伟") == "张*" and mask_name("欧阳娜娜") == "欧***"
    assert mask_id("12345") == "1****"


def test_code_lists_are_data():
    assert code_list("ethnicity").label("01") == "汉族"
    assert len(code_list("ethnicity").codes) == 58
    assert code_list("sex").label("2", "en") == "Female"
    with pytest.raises(KeyError, match="no census code list"):
        code_list("nope")


def test_every_code_has_exactly_a_chinese_and_an_english_label():
    from audit_engine.codes import code_lists

    for name, cl in code_lists().items():
        assert set(cl.title) == {"zh", "en"}, name
        for code, labels in cl.labels.items():
            assert set(labels) == {"zh", "en"} and all(isinstance(v, str) and v for v in labels.values()), (name, code)
    assert code_lists()["industry"].label("A", "en") == "Agriculture, forestry, animal husbandry and fishery"
