"""Knowledge checks test understanding, not test-taking: no option stands out by its length, the right option is
not the shortest or the longest one more often than chance would make it, and no letter is the key of too many
checks. Read from the instructor's sources (every module in `solutions/`), as graded."""
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


MAX_LENGTH_RATIO = 1.3  # longest option ÷ shortest option, in words, within one check
MAX_SHARE = 0.35  # of checks whose right option is the (jointly) shortest, or the (jointly) longest


def words(text: str) -> int:
    return len(text.split())


def test_within_each_check_the_longest_option_is_at_most_30_percent_longer_than_the_shortest():
    uneven = {grade_id: {letter: words(text) for letter, text in options.items()}
              for grade_id, options, _ in checks()
              if max(map(words, options.values())) > MAX_LENGTH_RATIO * min(map(words, options.values()))}
    assert not uneven, f"options differ in length by more than {MAX_LENGTH_RATIO}× (words): {uneven}"


def test_the_right_option_is_the_shortest_or_the_longest_in_no_more_than_35_percent_of_checks():
    found = checks()
    for position, pick in (("shortest", min), ("longest", max)):
        hits = [grade_id for grade_id, options, key in found
                if words(options[key]) == pick(map(words, options.values()))]
        assert len(hits) <= MAX_SHARE * len(found), f"right option {position} in {len(hits)} of {len(found)}: {hits}"


def test_no_letter_is_the_key_of_more_than_35_percent_of_checks():
    found = checks()
    counts = Counter(key for _, _, key in found)
    assert max(counts.values()) <= 0.35 * len(found), counts
