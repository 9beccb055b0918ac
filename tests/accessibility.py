"""What the accessibility tests share: axe-core in the page, the reflow measure, contrast, and one interaction
with each kind of widget a module page has. axe-core comes from npm with the front end (`make install`)."""
import re

from conftest import ROOT
from playwright.sync_api import expect

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SLOW = 90_000  # ms: a module page may wait for its kernel, and Module 3 for its simulations, on 2 cores
MODULES = sorted(p.name for p in (ROOT / "modules").glob("[0-9][0-9]-*.ipynb"))


def axe(page) -> list[str]:
    """axe-core's violations of WCAG 2.1 A and AA on the page as it is now, one line each."""
    assert AXE.exists(), f"{AXE} is missing: `make install` installs axe-core with the front end"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async (tags) => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return result.violations.map(v => `${v.id}: ${v.help} — ` + v.nodes.slice(0, 4).map(
            n => `${n.target.join(' ')} (${n.failureSummary.replace(/\\s+/g, ' ').slice(0, 240)})`).join('; '));
    }""", WCAG_AA)
    return found


# Every box on the page that reaches past the left or right edge of the window, unless it is inside a
# region made to scroll sideways: overflow-x auto or scroll, reachable by Tab, and named (role + label).
OVERFLOWING = """() => {
    const width = document.documentElement.clientWidth;
    const inScroller = (el) => {
        for (let p = el.parentElement; p; p = p.parentElement) {
            const style = getComputedStyle(p);
            if (['auto', 'scroll'].includes(style.overflowX) && p.tabIndex >= 0 && p.getAttribute('role')
                && (p.getAttribute('aria-label') || p.getAttribute('aria-labelledby'))) {
                const box = p.getBoundingClientRect();
                return box.left >= -1 && box.right <= width + 1;
            }
        }
        return false;
    };
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
        if ((box.right > width + 1 || box.left < -1) && !inScroller(el)) {
            const name = el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
                ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
            out.push(`${name} [${Math.round(box.left)}, ${Math.round(box.right)}] `
                     + JSON.stringify((el.innerText || el.getAttribute('aria-label') || '').slice(0, 50)));
        }
    }
    const page = document.documentElement.scrollWidth > width ? [`the page scrolls sideways: `
        + `${document.documentElement.scrollWidth} px wide in a ${width} px window`] : [];
    return [...page, ...out];
}"""


def overflowing(page, width=320) -> list[str]:
    """What reaches outside a window `width` CSS px wide (WCAG 1.4.10 reflow: 320 px is 1280 px at 400%)."""
    page.set_viewport_size({"width": width, "height": 800})
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    return page.evaluate(OVERFLOWING)


# Controls narrower than half the column in a narrow window (a text box squeezed to 18 px, a dropdown
# collapsed to its arrow): each as "what [width]".
SQUEEZED = """() => {
    const main = document.querySelector('main');
    const style = getComputedStyle(main);
    const column = main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const controls = 'select, textarea, input:not([type=radio]):not([type=checkbox]), .slider-container';
    return [...main.querySelectorAll(controls)]
        .filter(el => el.offsetParent && el.getBoundingClientRect().width < column / 2)
        .map(el => `${el.tagName.toLowerCase()}.${el.className} [${Math.round(el.getBoundingClientRect().width)}]`);
}"""


def squeezed(page) -> list[str]:
    """Controls narrower than half the column, in the window as it is now (see `overflowing`)."""
    return page.evaluate(SQUEEZED)


def luminance(colour: str) -> float:
    """Relative luminance of a CSS rgb()/rgba() colour (as getComputedStyle gives it) or #rrggbb."""
    if colour.startswith("#"):
        values = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        values = [float(v) for v in re.findall(r"[\d.]+", colour)[:3]]

    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in values)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def visible(locator):
    """The first of `locator`'s elements that is shown, as a locator that keeps pointing at it, or None."""
    for i in range(locator.count()):
        if locator.nth(i).is_visible():
            mark = locator.nth(i).evaluate("el => el.dataset.probe ||= String(Math.random()).slice(2)")
            return locator.page.locator(f"[data-probe='{mark}']")
    return None


def interact(page) -> list[str]:
    """Use one widget of each kind the page shows (slider, toggle buttons, dropdown, radios, text box) as a
    learner would, waiting until each has answered; returns the kinds used."""
    used = []
    if handle := visible(page.locator(".noUi-handle")):
        before = handle.get_attribute("aria-valuetext")
        handle.focus()
        page.keyboard.press("ArrowLeft" if handle.get_attribute("aria-valuenow") != "0.0" else "ArrowRight")
        expect(handle).not_to_have_attribute("aria-valuetext", before or "")
        used.append("slider")
    if button := visible(page.locator(".widget-toggle-button[aria-pressed=false]")):
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        used.append("toggle")
    if select := visible(page.locator(".widget-dropdown select")):
        values = select.locator("option").evaluate_all("options => options.map(o => o.value)")
        other = next(v for v in values if v != select.input_value())
        select.select_option(other)
        expect(select).to_have_value(other)
        used.append("dropdown")
    if radio := visible(page.locator(".widget-radio-box input[type=radio]:not(:checked)")):
        answer = page.locator(".allies-answer", has=radio)
        radio.check()
        expect(answer.locator(".allies-check-feedback, [role=status]").first).not_to_have_text(
            "Not answered yet.", timeout=20_000)
        used.append("radio")
    if text := visible(page.locator(".allies-answer textarea, .allies-answer .widget-text input")):
        text.fill("One thing I will do next week.")
        saved = page.locator(".allies-answer", has=text).locator(".allies-saved")
        expect(saved).to_contain_text(re.compile("Saved|saved|kept"), timeout=20_000)
        used.append("text box")
    return used


def open_module(context, base_url, name):
    """A module page at 1280 × 900, once its last cell has run and its widgets are drawn."""
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base_url}/voila/render/{name}", timeout=SLOW)
    page.wait_for_selector(".allies-submit button", timeout=SLOW)
    expect(page.locator("body")).to_have_attribute("data-allies-page", "ready", timeout=SLOW)
    return page
