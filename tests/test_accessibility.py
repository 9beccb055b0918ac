"""WCAG 2.1 AA on the public site (`python -m course serve`), in Chromium: axe-core finds nothing on the index
or on any module page, before or after each kind of widget is used; nothing overflows a 320 px window; focus,
pressed buttons and the slider's handle can be seen; radios are one Tab stop; the slider reads its year;
links are underlined, sources are links, headings are named by their text and go down one level at a time.

One server and one browser page per module for the whole file: each page is drawn once."""
import re

import pytest
from accessibility import MODULES, axe, contrast, interact, open_module, overflowing, squeezed
from conftest import Server
from playwright.sync_api import expect
from course.lesson import widgets

MODULE_1 = "01-why-men-why-now.ipynb"
MODULE_6 = "06-from-learning-to-leading.ipynb"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("a11y-site")
    running = Server(["serve", "--no-browser", "--instance", str(folder / "instance"), "--pool-size", "0"],
                     folder / "voila.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def pages(site, browser):
    """Each module page, drawn once when a test first asks for it, and kept open for the file's tests."""
    context = browser.new_context()
    opened = {}

    def page(name):
        if name not in opened:
            opened[name] = open_module(context, site.url, name)
        opened[name].set_viewport_size({"width": 1280, "height": 900})
        return opened[name]

    yield page
    context.close()


@pytest.mark.parametrize("name", MODULES)
def test_axe_finds_nothing_on_a_module_page_before_or_after_each_kind_of_widget_is_used(pages, name):
    page = pages(name)
    assert axe(page) == []
    used = interact(page)
    assert used, "every module page has widgets"
    assert axe(page) == [], used


@pytest.mark.parametrize("name", MODULES)
def test_nothing_on_a_module_page_overflows_a_320px_window(pages, name):
    """WCAG 1.4.10: only a region that scrolls on its own (a wide table), reachable by Tab and named, may
    hold something wider than the window; and no control is squeezed to less than half the column."""
    page = pages(name)
    assert overflowing(page) == []
    assert squeezed(page) == [], "controls too narrow to use"
    regions = page.locator(".allies-table-scroll")
    for i in range(regions.count()):
        region = regions.nth(i)
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
        assert region.get_attribute("aria-label")
    assert broken_words(page) == [], "a word broken across lines (Module 5's table read 'Gend/er', its labels 'ignor/ance')"
    assert page.evaluate(SEPARATORS_LEADING) == [], "a source line's line begins with the '|' between citations"
    assert page.evaluate(CUT_PLACEHOLDERS) == [], "a one-line box's hint is cut off"
    assert page.evaluate(TALL_ROWS) == [], "table rows over 8 lines tall (Module 4's were 21: prose squeezed to a word a line)"


# Table rows taller than 8 lines of their text: each as its first cell's text.
TALL_ROWS = """() => [...document.querySelectorAll('.allies-table tbody tr')].filter((row) => {
    const line = parseFloat(getComputedStyle(row.cells[0]).lineHeight);
    return row.getBoundingClientRect().height > 8 * line + 16; }).map((row) => row.cells[0].textContent)"""


# One-line boxes whose placeholder is wider than the box (a textarea's wraps; an input's is cut off).
CUT_PLACEHOLDERS = """() => { const pen = document.createElement('canvas').getContext('2d');
    return [...document.querySelectorAll('input[placeholder]')].filter((box) => box.offsetParent).filter((box) => {
      const style = getComputedStyle(box);
      pen.font = style.font;
      const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return pen.measureText(box.placeholder).width > room; }).map((box) => box.placeholder); }"""


SEPARATORS_LEADING = r"""() => [...document.querySelectorAll('.allies-source')].filter((line) => {
    const left = line.getBoundingClientRect().left, walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\|/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + 1);
        const rect = range.getBoundingClientRect();
        if (rect.width && rect.left - left < 4) return true;
      }
    }
    return false; }).map((line) => line.textContent.slice(0, 80))"""


BROKEN_WORDS = """() => { const broken = [];
  for (const part of document.querySelectorAll('main')) {
    const walker = document.createTreeWalker(part, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('a')) continue;  // (a link's address may break anywhere: it has no words)
      for (const match of node.data.matchAll(/[^\\s\\-–—/]+/g)) {  // (a line may break after a hyphen or slash)
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0);  // (a bold run's may differ by 1 px)
        const tops = rects.map((r) => r.top);
        if (rects.length && Math.max(...tops) - Math.min(...tops) > rects[0].height / 2) broken.push(match[0]);
      }
    }
  }
  return broken.slice(0, 5); }"""


def broken_words(page) -> list[str]:
    return page.evaluate(BROKEN_WORDS)


@pytest.mark.parametrize("name", ["04-backlash-and-zero-sum.ipynb", "05-behind-the-veil.ipynb"])
def test_tables_fit_the_column_in_a_wide_window(pages, name):
    """Only a narrow window makes a table scroll (prose cells keep 18 em there, `components.css`)."""
    page = pages(name)
    widths = page.evaluate("""() => [...document.querySelectorAll('.allies-table-scroll')].filter((r) => r.offsetParent)
        .map((r) => [r.scrollWidth, r.clientWidth])""")
    assert widths and all(scroll <= client for scroll, client in widths), widths


def test_labels_beside_controls_read_from_the_left(pages):
    """A label that wraps beside its control lines up on the left, as the page's first view has it (the
    widgets' own style set them right-aligned: a wrapped label's lines were ragged on the left)."""
    page = pages(MODULE_6)
    aligns = page.evaluate("""() => [...document.querySelectorAll('.widget-inline-hbox > .widget-label')]
        .filter((label) => label.offsetParent && label.textContent.trim())
        .map((label) => getComputedStyle(label).textAlign)""")
    assert aligns and set(aligns) <= {"left", "start"}, aligns


def test_the_index_passes_axe_and_reflows(site, browser):
    page = browser.new_page()
    try:
        page.goto(site.url + "/")
        assert axe(page) == []
        assert overflowing(page) == []
    finally:
        page.close()


def ring(page) -> dict:
    return page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), colour: s.outlineColor,
                tag: document.activeElement.tagName}; }""")


def test_dropdowns_text_boxes_and_text_areas_show_a_focus_ring_of_3_to_1(pages):
    page = pages(MODULE_6)
    plan = page.locator(".allies-plan")
    for target in (plan.locator("select").first, plan.locator(".widget-text input").first,
                   plan.locator("textarea").first):
        target.scroll_into_view_if_needed()
        target.focus()
        shown = ring(page)
        assert shown["tag"] in ("SELECT", "INPUT", "TEXTAREA")
        assert shown["style"] != "none" and shown["width"] >= 2, shown
        assert contrast(shown["colour"], "#ffffff") >= 3, shown


def test_toggle_buttons_say_which_is_pressed_in_one_style_seen_at_3_to_1(pages):
    looks = set()
    for name in MODULES:
        page = pages(name)
        buttons = page.locator(".widget-toggle-button")
        if not buttons.count():
            continue
        found = buttons.evaluate_all("""buttons => buttons.filter(b => b.offsetParent).map(b => {
            const s = getComputedStyle(b);
            return {active: b.classList.contains('mod-active'), pressed: b.getAttribute('aria-pressed'),
                    background: s.backgroundColor, colour: s.color, border: s.borderTopColor,
                    weight: s.fontWeight}; })""")
        assert all(b["pressed"] == str(b["active"]).lower() for b in found), name
        for pressed in (b for b in found if b["active"]):
            looks.add((pressed["background"], pressed["colour"], pressed["border"], pressed["weight"]))
            for other in (b for b in found if not b["active"]):
                assert contrast(pressed["background"], other["background"]) >= 3, (name, pressed, other)
            assert contrast(pressed["background"], "#ffffff") >= 3, (name, pressed)
            assert contrast(pressed["background"], pressed["colour"]) >= 4.5, (name, pressed)
    assert len(looks) == 1, f"a pressed button looks different from page to page: {looks}"


def test_the_slider_is_named_reads_its_year_and_its_handle_is_seen(pages):
    page = pages(MODULE_1)
    slider = page.locator(".widget-slider").first
    handle, readout = slider.locator(".noUi-handle"), slider.locator(".widget-readout")
    expect(page.get_by_role("slider", name="Year")).to_have_count(1)
    for key in ("End", "ArrowLeft"):  # the last year, then the one before, read as the page shows them
        before = handle.get_attribute("aria-valuetext")
        handle.focus()
        page.keyboard.press(key)
        if key != "End" or before != "2025":
            expect(handle).not_to_have_attribute("aria-valuetext", before)
        assert handle.get_attribute("aria-valuetext") == readout.inner_text()
        assert re.fullmatch(r"20\d\d", readout.inner_text()), readout.inner_text()
    assert readout.inner_text() == "2024"
    # The readout is not a second, unnamed stop that takes typing (ipywidgets' is, and ignores what is typed).
    assert readout.evaluate("el => !el.isContentEditable && el.tabIndex < 0 && el.ariaHidden === 'true'")
    colours = slider.evaluate("""el => { const c = (q) => [...el.querySelectorAll(q)].map(
        e => getComputedStyle(e).backgroundColor);
        return {handle: c('.noUi-handle')[0], around: [...c('.noUi-connects'), ...c('.noUi-connect')]}; }""")
    for around in ("#ffffff", *colours["around"]):
        assert contrast(colours["handle"], around) >= 3, colours


def test_each_question_s_radios_are_one_named_group_one_tab_stop(pages):
    page = pages(MODULE_1)
    question = page.locator(".allies-item-m01-q2")
    group = question.get_by_role("radiogroup")
    expect(group).to_have_count(1)
    assert group.evaluate("el => document.getElementById(el.getAttribute('aria-labelledby')).textContent")
    radios = question.locator("input[type=radio]")
    assert radios.count() >= 3
    radios.first.focus()
    page.keyboard.press("ArrowDown")  # moves within the group, and chooses
    expect(radios.nth(1)).to_be_checked()
    expect(radios.nth(1)).to_be_focused()
    expect(question.locator(".allies-check-feedback")).to_contain_text("(b)", timeout=20_000)
    page.keyboard.press("Tab")  # leaves the group: the next stop is not another option of it
    assert page.evaluate("() => document.activeElement.name") != radios.first.get_attribute("name")
    page.keyboard.press("Shift+Tab")
    expect(radios.nth(1)).to_be_focused()


@pytest.mark.parametrize("name", MODULES)
def test_links_are_underlined_sources_are_links_and_headings_are_named_by_their_text(pages, name):
    page = pages(name)
    found = page.evaluate(r"""() => {
        const text = 'p, li, dd, td, figcaption';
        const links = [...document.querySelectorAll('.allies-module a')].filter(a => a.closest(text)
            && a.offsetParent && !getComputedStyle(a).textDecorationLine.includes('underline'));
        const bare = [];
        const walker = document.createTreeWalker(document.querySelector('.allies-module'), NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (/https?:\/\//.test(node.textContent) && !node.parentElement.closest('a, code, pre, style'))
                bare.push(node.textContent.trim().slice(0, 80));
        }
        const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(h => h.offsetParent);
        return {plain: links.map(a => a.outerHTML.slice(0, 80)), bare,
                pilcrows: headings.filter(h => h.textContent.trim().endsWith('¶')).map(h => h.textContent),
                levels: headings.map(h => Number(h.tagName[1]))};
    }""")
    assert found["plain"] == [], "links in text told apart by colour alone"
    assert found["bare"] == [], "web addresses that are not links"
    assert found["pilcrows"] == []
    levels = found["levels"]
    assert levels and levels[0] == 1
    skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert skips == [], f"headings skip a level: {levels}"


CHART_SIZES = """() => [...document.querySelectorAll('.allies-chart img')].filter(i => i.offsetParent).map(i => {
    const main = document.querySelector('main'), style = getComputedStyle(main);
    const column = main.getBoundingClientRect();
    const box = i.getBoundingClientRect();
    return {pixels: [i.naturalWidth, i.naturalHeight], shown: [box.width, box.height], alt: i.alt,
            size: [Number(i.getAttribute('width')), Number(i.getAttribute('height'))],
            column: [column.left + parseFloat(style.paddingLeft), column.right - parseFloat(style.paddingRight)],
            edges: [box.left, box.right]};
})"""


@pytest.mark.parametrize("module", ["05-behind-the-veil.ipynb", MODULE_6])
def test_every_kind_of_chart_fills_the_column(pages, module):
    """The veil game's chart (Module 5) and the self-assessment's (Module 6) are drawn apart from the lesson
    charts' `charts._figure`, and fill the column too."""
    wide = pages(module).evaluate(CHART_SIZES)
    assert wide, f"{module} shows a chart"
    for chart in wide:
        left, right = chart["column"]
        assert right - left - 16 <= chart["shown"][0] <= right - left + 1, chart


def test_charts_have_twice_their_shown_pixels_and_fill_the_column(pages):
    """Sharp on a 2× screen: each chart's PNG has twice the pixels of the size it is shown at; in a 1280 px
    window it fills the column (it was 640 px in a 764 px column); in a 320 px window it shrinks to the
    column, keeping its shape and its alt text."""
    page = pages(MODULE_1)
    wide = page.evaluate(CHART_SIZES)
    assert wide, "Module 1 shows charts"
    for chart in wide:
        assert chart["pixels"] == [2 * chart["size"][0], 2 * chart["size"][1]], chart
        assert chart["shown"] == pytest.approx(chart["size"], abs=1), chart
        assert chart["alt"].startswith(("Bar chart", "Line chart", "Grouped bar chart")), chart["alt"]
        left, right = chart["column"]
        assert right - left - 16 <= chart["shown"][0] <= right - left + 1, chart
    assert overflowing(page) == []
    for chart in page.evaluate(CHART_SIZES):
        left, right = chart["column"]
        assert left - 1 <= chart["edges"][0] and chart["edges"][1] <= right + 1, chart
        assert right - left - 16 <= chart["shown"][0], chart  # the column's width, less a widget's padding
        ratio = chart["size"][1] / chart["size"][0]
        assert chart["shown"][1] == pytest.approx(chart["shown"][0] * ratio, abs=1), chart


def test_an_explorer_view_not_drawn_with_the_page_is_drawn_when_chosen(pages):
    """Only the first view of Module 3's pipeline comes with the page; choosing another setting draws it."""
    page = pages("03-bias-in-tech-work.ipynb")
    explorer = page.locator(".allies-explorer", has=page.get_by_role("slider", name="Rating boost for men"))
    shown = explorer.locator(".allies-chart img").filter(visible=True)
    before = shown.get_attribute("alt")
    # While a view is drawn, its note takes the chart's place at the chart's size: the page does not jump, in a
    # wide window or a 320 px one.
    for width in (320, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        pending = shown.evaluate("""(chart, html) => {  // the chart's widget, holding the note instead, in its place
            const view = chart.closest('.widget-html'), probe = view.cloneNode(false);
            probe.innerHTML = `<div class="widget-html-content">${html}</div>`; view.after(probe);
            view.style.display = 'none';
            const box = probe.querySelector('.allies-pending').getBoundingClientRect();
            probe.remove(); view.style.display = ''; return [box.left, box.right, box.height]; }""",
                                 widgets.Explorer.PENDING)
        assert 0 <= pending[0] and pending[1] <= width and pending[2] == pytest.approx(
            shown.bounding_box()["height"], rel=0.05), (width, pending, shown.bounding_box())
    handle = explorer.get_by_role("slider", name="Rating boost for men")
    handle.focus()
    page.keyboard.press("End")
    expect(shown).not_to_have_attribute("alt", before, timeout=30_000)
    expect(explorer.get_by_text("Drawing this view…").filter(visible=True)).to_have_count(0)
    assert shown.get_attribute("alt").startswith("Bar chart")


def test_role_practice_passes_axe_and_reflows_once_a_role_is_picked_and_a_scene_answered(pages):
    """Module 6's role picker, and a scene of the role picked, written first, its options shown and one chosen,
    from the keyboard."""
    page = pages(MODULE_6)
    picker = page.locator(".allies-role-picker")
    expect(picker.get_by_role("radiogroup")).to_have_count(1)
    picker.get_by_role("radio", name="Senior leader").check()
    scene = page.locator(".allies-card").first
    expect(scene).to_contain_text("The conference panel", timeout=20_000)
    scene.get_by_role("textbox").fill("I would say no, and name someone who knows the subject.")
    show = scene.get_by_role("button", name="Show the options")
    expect(show).to_be_enabled()
    show.focus()
    page.keyboard.press("Enter")
    option = scene.locator(".allies-card-responses button").first
    expect(option).to_be_visible()
    option.focus()
    page.keyboard.press("Space")
    expect(scene.locator(".allies-card-feedback:visible")).to_contain_text("You picked:")
    assert axe(page) == []
    page.set_viewport_size({"width": 320, "height": 900})
    assert overflowing(page) == [] and squeezed(page) == []
