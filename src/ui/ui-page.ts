// The page's shell and stylesheet. The shell holds no data and no inline script or style: the
// Content-Security-Policy (ui-router.ts) allows only this origin's files, and the views
// (browser/app.ts) fill the page from the registry API as text.

export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>regate</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/js/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<a class="brand" href="#/">regate</a>
<nav id="crumbs" aria-label="Breadcrumbs"></nav>
<div id="account"></div>
</header>
<main id="main" tabindex="-1"><p class="status" role="status">Loading…</p></main>
</body>
</html>
`;

export const UI_CSS = `:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0550ae; --panel: #f6f8fa; --error: #a40e26;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 16px; line-height: 1.45;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9da7b3; --line: #30363d; --accent: #79c0ff; --panel: #161b22; --error: #ff7b72; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -10000px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .25rem .5rem; }
header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: baseline; padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { font-weight: 700; text-decoration: none; font-size: 1.15rem; }
#crumbs { overflow-wrap: anywhere; }
main { padding: 1rem; max-width: 72rem; margin: 0 auto; }
h1 { font-size: 1.4rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin-top: 1.5rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; display: block; overflow-x: auto; }
caption { text-align: left; color: var(--muted); padding: .25rem 0; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
thead th { background: var(--panel); }
th.tag, td.when { white-space: nowrap; overflow-wrap: normal; }
ul.names { list-style: none; padding: 0; columns: 18rem; }
ul.names li { padding: .2rem 0; overflow-wrap: anywhere; }
ul.commands { list-style: none; padding: 0; }
ul.commands li { margin: .3rem 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
#account { margin-left: auto; }
button.link { border: none; background: none; color: var(--accent); text-decoration: underline; padding: 0 .25rem; }
.signin { display: grid; grid-template-columns: max-content minmax(0, 20rem); gap: .5rem .75rem; align-items: center; margin: 1rem 0; }
.signin button, .signin div { grid-column: 2; justify-self: start; }
.filter, .jump { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
input { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); min-width: 14rem; }
button { font: inherit; padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--fg); cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
.pager { display: flex; gap: .5rem; margin: 1rem 0; }
.danger { margin-top: 2rem; border-top: 1px solid var(--line); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; }
.confirm-box { border: 1px solid var(--error); border-radius: 6px; padding: .5rem 1rem; margin: .75rem 0; }
button.confirm { border-color: var(--error); color: var(--error); font-weight: 600; }
.status { color: var(--muted); }
.status.error { color: var(--error); font-weight: 600; }
@media (max-width: 40rem) { main { padding: .5rem; } .facts { grid-template-columns: 1fr; } input { min-width: 0; width: 100%; } }
`;
