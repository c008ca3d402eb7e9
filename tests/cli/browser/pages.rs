//! Small pages of the tests' own, each with markup unlike the fixture shop's and the behaviour
//! one step needs (served by [`super::site::Site`]).

/// A category picker whose option values are ids, not labels (like most admin forms).
pub const SELECT: &str = r##"<!doctype html>
<title>Garden centre</title>
<form>
  <label>Category
    <select id="category" name="category">
      <option value="">---------</option>
      <option value="1">Kitchen</option>
      <option value="3">  Garden
      </option>
      <option value="7" disabled>Pond (sold out)</option>
    </select>
  </label>
</form>
<p>Chosen: <output id="chosen">none</output></p>
<script>
  const category = document.querySelector("#category");
  category.addEventListener("change", () => {
    document.querySelector("#chosen").textContent = "category " + category.value;
  });
</script>
"##;

/// The query string it was opened with, for `${run}` and `${unique}`.
pub const ECHO: &str = r##"<!doctype html>
<title>Echo</title>
<p>Opened with <code id="q"></code></p>
<script>document.querySelector("#q").textContent = location.search.slice(1);</script>
"##;

/// A to-do list like TodoMVC's, in markup of its own: double-click a label to edit it (Enter
/// saves), tick an item done, a counter of items left, and a field to type into.
pub const TODO: &str = r##"<!doctype html>
<title>Chores</title>
<style>.item.editing .label { display: none; } #hidden-editor { display: none; }</style>
<section class="chores">
  <input id="new" placeholder="What else?">
  <ul class="items">
    <li class="item"><input type="checkbox" class="done"> <span class="label">Buy seeds</span></li>
    <li class="item"><input type="checkbox" class="done"> <span class="label">Water the lawn</span></li>
    <li class="item"><input type="checkbox" class="done"> <span class="label">Fix the fence</span></li>
  </ul>
  <p id="left"></p>
  <textarea id="hidden-editor"></textarea>
</section>
<script>
  const left = () => {
    const n = document.querySelectorAll(".item:not(.completed)").length;
    document.querySelector("#left").textContent = n + (n === 1 ? " item left" : " items left");
  };
  document.querySelectorAll(".item").forEach((li) => {
    const label = li.querySelector(".label");
    li.querySelector(".done").addEventListener("change", (e) => {
      li.classList.toggle("completed", e.target.checked);
      left();
    });
    label.addEventListener("dblclick", () => {
      li.classList.add("editing");
      const edit = document.createElement("input");
      edit.className = "edit";
      edit.value = label.textContent;
      li.appendChild(edit);
      edit.focus();
      edit.addEventListener("keydown", (e) => {
        if (e.key !== "Enter") return;
        label.textContent = edit.value;
        edit.remove();
        li.classList.remove("editing");
      });
    });
  });
  left();
</script>
"##;

/// Which keys, with which modifiers, the page saw last, and which field has the focus.
pub const KEYS: &str = r##"<!doctype html>
<title>Keys</title>
<input id="a"> <input id="b"> <input id="c">
<p>Focused: <span id="focused">none</span>; last chord: <span id="combo">none</span></p>
<script>
  document.addEventListener("focusin", (e) => {
    document.querySelector("#focused").textContent = e.target.id;
  });
  document.addEventListener("keydown", (e) => {
    if (["Control", "Shift", "Alt", "Meta"].includes(e.key)) return;
    const mods = [e.ctrlKey && "Control", e.altKey && "Alt", e.shiftKey && "Shift", e.metaKey && "Meta"].filter(Boolean);
    document.querySelector("#combo").textContent = [...mods, e.key].join("+");
  });
</script>
"##;

/// An account menu that opens on hover and says so in `aria-expanded`.
pub const MENU: &str = r##"<!doctype html>
<title>Menu</title>
<style>#account-menu { display: none; } .menu.open #account-menu { display: block; }</style>
<header>
  <div class="menu">
    <button id="account" aria-haspopup="true" aria-expanded="false">Account</button>
    <div id="account-menu"><a href="#settings">Settings</a> <a id="logout" href="#logout">Log out</a></div>
  </div>
</header>
<main style="margin-top: 200px"><p id="far">Somewhere else</p></main>
<script>
  const menu = document.querySelector(".menu");
  const button = document.querySelector("#account");
  menu.addEventListener("mouseenter", () => { menu.classList.add("open"); button.setAttribute("aria-expanded", "true"); });
  menu.addEventListener("mouseleave", () => { menu.classList.remove("open"); button.setAttribute("aria-expanded", "false"); });
</script>
"##;

/// Checkboxes, radio buttons, a disabled box, one that refuses to change, one styled away
/// behind its label, an ARIA switch, a widget wrapping a box, and a summary of what is on.
pub const FORM: &str = r##"<!doctype html>
<title>Preferences</title>
<style>.pretty input { position: absolute; opacity: 0; width: 0; height: 0; }
  .pretty span::before { content: "[ ] "; } .pretty input:checked + span::before { content: "[x] "; }</style>
<form id="prefs">
  <label><input type="checkbox" id="terms" name="terms"> I accept the terms</label>
  <fieldset><legend>Plan</legend>
    <label><input type="radio" name="plan" id="plan-basic" value="basic" checked> Basic</label>
    <label><input type="radio" name="plan" id="plan-pro" value="pro"> Pro</label>
  </fieldset>
  <label class="pretty"><input type="checkbox" id="newsletter"><span>Newsletter</span></label>
  <div id="dark" role="switch" aria-checked="false" tabindex="0">Dark mode</div>
  <span id="gift-widget" class="widget" onclick="if (event.target.id !== 'gift') { const b = document.querySelector('#gift'); b.checked = !b.checked; b.dispatchEvent(new Event('change', { bubbles: true })); }"><input type="checkbox" id="gift"> Gift wrap</span>
  <label><input type="checkbox" id="locked" disabled> Locked</label>
  <label><input type="checkbox" id="refuse"> Cannot be ticked</label>
  <label>Quantity <input type="number" id="qty" value="2"></label>
</form>
<p id="summary"></p>
<script>
  const summary = () => {
    const on = [];
    if (document.querySelector("#terms").checked) on.push("terms");
    on.push("plan=" + document.querySelector("input[name=plan]:checked").value);
    if (document.querySelector("#newsletter").checked) on.push("newsletter");
    if (document.querySelector("#dark").getAttribute("aria-checked") === "true") on.push("dark");
    if (document.querySelector("#gift").checked) on.push("gift");
    document.querySelector("#summary").textContent = on.join(" ");
  };
  document.querySelector("#prefs").addEventListener("change", summary);
  const dark = document.querySelector("#dark");
  dark.addEventListener("click", () => {
    dark.setAttribute("aria-checked", dark.getAttribute("aria-checked") === "true" ? "false" : "true");
    summary();
  });
  document.querySelector("#refuse").addEventListener("click", (e) => e.preventDefault());
  summary();
</script>
"##;

/// A file picker that reports what was picked.
pub const UPLOAD: &str = r##"<!doctype html>
<title>Import</title>
<label>Orders file <input type="file" id="file" accept=".csv"></label>
<p id="file-info">nothing picked</p>
<script>
  document.querySelector("#file").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    const lines = (await f.text()).trim().split("\n").length;
    document.querySelector("#file-info").textContent = f.name + ": " + lines + " lines";
  });
</script>
"##;

/// A page that opens a help window.
pub const WINDOWS: &str = r##"<!doctype html>
<title>Main window</title>
<h1>Main</h1>
<button id="open-help" onclick="window.open('help.html', 'help', 'width=400,height=300')">Help</button>
"##;

/// The help window, which can close itself.
pub const HELP: &str = r##"<!doctype html>
<title>Help centre</title>
<h1>Help</h1>
<button id="close" onclick="window.close()">Close</button>
"##;

/// A checkout whose card form is in an iframe.
pub const FRAMES: &str = r##"<!doctype html>
<title>Checkout</title>
<h1>Checkout</h1>
<iframe id="payment" src="card.html" width="400" height="150"></iframe>
"##;

/// The card form inside the checkout's iframe.
pub const CARD: &str = r##"<!doctype html>
<title>Card</title>
<input id="card" placeholder="Card number"> <button onclick="document.querySelector('#status').textContent = 'paid ' + document.querySelector('#card').value">Pay</button>
<p id="status"></p>
"##;

/// Buttons that open an alert, a confirm, a prompt, and an alert a moment later.
pub const DIALOGS: &str = r##"<!doctype html>
<title>Dialogs</title>
<button id="alert" onclick="alert('Saved')">Save</button>
<button id="confirm" onclick="document.querySelector('#result').textContent = confirm('Delete 2 items?') ? 'deleted' : 'kept'">Delete</button>
<button id="prompt" onclick="const n = prompt('Your name?'); document.querySelector('#result').textContent = n === null ? 'no name' : 'hello ' + n">Greet</button>
<button id="later" onclick="setTimeout(() => alert('Saved at ' + Date.now()), 200)">Save later</button>
<p id="result"></p>
"##;

/// A page three viewports tall.
pub const TALL: &str = r##"<!doctype html>
<title>Long read</title>
<style>body { margin: 0; } section { height: 2400px; background: linear-gradient(#fff, #9cf); }</style>
<h1>Chapter one</h1>
<section></section>
<footer id="footer">The end</footer>
"##;

/// Every page above, as the site serves them.
pub fn all() -> Vec<(&'static str, &'static str)> {
    vec![
        ("select.html", SELECT),
        ("echo.html", ECHO),
        ("todo.html", TODO),
        ("keys.html", KEYS),
        ("menu.html", MENU),
        ("form.html", FORM),
        ("upload.html", UPLOAD),
        ("windows.html", WINDOWS),
        ("help.html", HELP),
        ("frames.html", FRAMES),
        ("card.html", CARD),
        ("dialogs.html", DIALOGS),
        ("tall.html", TALL),
    ]
}
