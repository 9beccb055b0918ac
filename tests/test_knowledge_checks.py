"""Knowledge checks test understanding, not test-taking: across the course the right option is rarely the
longest one, and no letter is the key of too many checks. Read from the instructor's sources, as graded."""
import ast
import json
import re
from collections import Counter

from conftest import ROOT, correct_answers

from course.grading import release

ASSERT = re.compile(r'assert letter\(answer\) == "([a-d])", \(')


def checks() -> list[tuple[str, dict[str, str], str]]:
    """(grade id, options, key) for every knowledge check in `solutions/`."""
    found = []
    for name in release.module_names():
        keys = correct_answers(name, checks_only=True)
        cells = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or "knowledge_check(" not in source:
                continue
            call = next(node for node in ast.walk(ast.parse(source.split("### END SOLUTION")[-1]))
                        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "knowledge_check")
            grade_id = ast.literal_eval(call.args[0])
            found.append((grade_id, ast.literal_eval(call.args[3]), keys[grade_id]))
    return found


def test_every_check_has_four_options_and_its_hidden_test_keeps_the_graded_form():
    for grade_id, options, key in checks():
        assert sorted(options) == ["a", "b", "c", "d"], grade_id
        assert key in options, grade_id
    text = "".join((ROOT / "solutions" / f"{n}.ipynb").read_text(encoding="utf-8") for n in release.module_names())
    assert len(re.findall(r'assert letter\(answer\) == \\"[a-d]\\", \(', text)) == len(checks())


def test_the_right_option_is_the_longest_in_at_most_a_third_of_checks():
    found = checks()
    longest = [g for g, options, key in found if len(options[key]) >= max(len(v) for v in options.values())]
    assert len(longest) * 3 <= len(found), f"right option longest in {len(longest)} of {len(found)}: {longest}"


def test_no_letter_is_the_key_of_more_than_35_percent_of_checks():
    found = checks()
    counts = Counter(key for _, _, key in found)
    assert max(counts.values()) <= 0.35 * len(found), counts
