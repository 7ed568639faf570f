"""``GET /``: the Chinese status page, complete as served (no JavaScript needed to read it).

Everything is inline, and the Content-Security-Policy the server sends (built
from the hashes below) lets the browser load nothing from anywhere else.
Every value from the registry goes through ``html.escape``. The small script only
refreshes: it polls ``/api/status`` and sets every ``data-field`` the server
renders (the script words them as the renderer does), reloads the page's cards
when a mapping changes (the timeline comes from the server), and copies.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from html import escape

from nat1_traversal.i18n import language, t
from nat1_traversal.status.model import ServiceStatus, ServiceView, Snapshot
from nat1_traversal.status.registry import HISTORY_WINDOW

REACH_KEYS: dict[bool | None, str] = {True: "status.reach.true", False: "status.reach.false",
                                      None: "status.reach.none"}
TIMELINE_WIDTH = 960
TIMELINE_HEIGHT = 24
PORTMAP_SEP = "："  # between "not open" and the router's reason

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Microsoft YaHei","PingFang SC",sans-serif;margin:0;
background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px}header h1{font-size:18px;margin:0}
header p{margin:4px 0 0;font-size:13px;color:#c9cfdb}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px;padding:16px 20px}
.card{background:#fff;border-radius:8px;padding:14px 16px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.card h2{font-size:17px;margin:0 0 8px;display:flex;gap:8px;align-items:center}
.tag{font-size:12px;font-weight:normal;padding:1px 7px;border-radius:10px;background:#e6e9ef}
.state-mapped{background:#d5f5df;color:#11612d}.state-retrying,.state-starting{background:#fff1c9;color:#7a5600}
.state-failed{background:#fbd9d9;color:#8f1c1c}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 12px;margin:0;font-size:14px}dt{color:#5b6475}dd{margin:0}
code{font-size:15px;background:#eef1f6;padding:1px 5px;border-radius:4px}
button.copy{margin-left:6px;font-size:12px;padding:1px 8px;cursor:pointer}
.error{color:#8f1c1c}.timeline{margin-top:10px}.timeline svg{width:100%;height:24px;display:block}
.axis{display:flex;justify-content:space-between;font-size:11px;color:#5b6475}
.seg0{fill:#6aa9f0}.seg1{fill:#3c7dd9}.gap{fill:#e6e9ef}.tick{stroke:#d6336c;stroke-width:2}
footer{font-size:12px;color:#5b6475;padding:0 20px 16px}
"""

SCRIPT = """
(function(){
var W=JSON.parse(document.getElementById('words').textContent);
var q=location.search,shown=null;
function pad(n){return (n<10?'0':'')+n}
function fmt(iso){if(!iso)return W.none;var d=new Date(iso);return d.getFullYear()+'-'+pad(d.getMonth()+1)+'-'+
pad(d.getDate())+' '+pad(d.getHours())+':'+pad(d.getMinutes())+':'+pad(d.getSeconds())}
function set(card,field,text){var el=card.querySelector('[data-field="'+field+'"]');if(el)el.textContent=text}
function fill(tpl,f){Object.keys(f).forEach(function(k){tpl=tpl.split('{'+k+'}').join(f[k])});return tpl}
function portmap(p){if(!p)return W.pm.off;if(!p.method)return W.pm.not_held+(p.error?W.pm.sep+p.error:'');
 return fill(p.renews?W.pm.held:W.pm.permanent,{method:p.method,gateway:p.gateway||'',renews:fmt(p.renews)})}
function key(data){return data.services.map(function(s){return s.name+'='+s.mapping}).join(',')}
function apply(data){
 data.services.forEach(function(s){
  var card=document.querySelector('[data-service="'+CSS.escape(s.name)+'"]');if(!card)return;
  var st=card.querySelector('[data-field="state"]');st.textContent=W.state[s.state];st.className='tag state-'+s.state;
  set(card,'mapping',s.mapping||W.none);var b=card.querySelector('button.copy');
  if(b){b.dataset.copy=s.mapping||'';b.disabled=!s.mapping}
  set(card,'since',fmt(s.since));set(card,'remaps',String(s.remaps));
  set(card,'reachable',W.reach[String(s.reachable)]);
  set(card,'dns',s.dns.name||W.none);set(card,'dns_state',W.dns[s.dns.state]);
  set(card,'last_ok',fmt(s.dns.last_ok));set(card,'dns_error',s.dns.error||'');set(card,'error',s.error||'');
  set(card,'kind',s.type+' / '+s.proto.toUpperCase());
  set(card,'local',(s.remote?s.local+' \u2192 '+s.remote:s.local)+' ('+W.mode[s.mode]+')');
  set(card,'portmap',portmap(s.portmap));
 });
}
function reload(){fetch(location.pathname+q,{cache:'no-store'}).then(function(r){return r.text()}).then(function(h){
 var doc=new DOMParser().parseFromString(h,'text/html');var m=doc.querySelector('main');
 if(m)document.querySelector('main').replaceWith(m)})}
function poll(){fetch('api/status'+q,{cache:'no-store'}).then(function(r){if(!r.ok)throw r.status;return r.json()})
 .then(function(data){var k=key(data);if(shown!==null&&k!==shown){reload()}else{apply(data)}shown=k;
 document.getElementById('updated').textContent=fmt(new Date().toISOString())})
 .catch(function(){document.getElementById('updated').textContent=W.offline})}
document.addEventListener('click',function(ev){var b=ev.target.closest('button.copy');if(!b)return;
 var text=b.dataset.copy;function done(ok){b.textContent=ok?W.copied:W.copy_failed;
 setTimeout(function(){b.textContent=W.copy},1500)}
 function fallback(){var ta=document.createElement('textarea');ta.value=text;document.body.appendChild(ta);ta.select();
  var ok=false;try{ok=document.execCommand('copy')}catch(e){}ta.remove();done(ok)}
 if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(text).then(function(){done(true)},fallback)}
 else{fallback()}});
setInterval(poll,5000);setInterval(reload,300000);poll();
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Sent with the page: nothing but this document's own style and script, and fetches to itself.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def local_time(moment: datetime | None) -> str:
    """The host's local time, as a person reads it (the script uses the browser's)."""
    if moment is None:
        return t("status.none")
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _words() -> str:
    words = {
        "none": t("status.none"),
        "copy": t("status.page.copy"),
        "copied": t("status.page.copied"),
        "copy_failed": t("status.page.copy_failed"),
        "offline": t("status.page.offline"),
        "state": {s: t(f"status.state.{s}") for s in ("starting", "mapped", "retrying", "failed")},
        "reach": {"true": t("status.reach.true"), "false": t("status.reach.false"), "null": t("status.reach.none")},
        "dns": {s: t(f"status.dns.{s}") for s in ("ok", "pending", "failing", "off")},
        "mode": {m: t(f"status.page.mode_{m}") for m in ("shared", "forward")},
        # the router's forward as _portmap() words it; the templates keep their {fields} for the script
        "pm": {"off": t("portmap.status.off"), "not_held": t("portmap.status.not_held"), "sep": PORTMAP_SEP,
               "held": t("portmap.status.held", method="{method}", gateway="{gateway}", renews="{renews}"),
               "permanent": t("portmap.status.permanent", method="{method}", gateway="{gateway}")},
    }
    # JSON inside <script type="application/json">: "</" must not close the element.
    return json.dumps(words, ensure_ascii=False).replace("</", "<\\/")


def render_page(snapshot: Snapshot) -> str:
    cards = "\n".join(_card(view, snapshot.now) for view in snapshot.services)
    if not cards:
        cards = f"<p>{escape(t('status.no_services'))}</p>"
    lang = "zh-CN" if language() == "zh" else "en"
    title = escape(t("status.page.title"))
    started = escape(local_time(snapshot.started))
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>{title}</h1>
<p>{escape(t("status.page.version", version=snapshot.version))} · {escape(t("status.page.started"))} {started} ·
{escape(t("status.page.updated"))} <span id="updated">{escape(local_time(snapshot.now))}</span></p></header>
<main>
{cards}
</main>
<footer>{escape(t("status.page.footer"))}</footer>
<script type="application/json" id="words">{_words()}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _portmap(s: ServiceStatus) -> str:
    """The home router's forward (SPEC §14): method, router, next renewal; or why there is none."""
    pm = s.portmap
    if pm is None:
        return t("portmap.status.off")
    if pm.method is None:
        return t("portmap.status.not_held") + (f"{PORTMAP_SEP}{pm.error}" if pm.error else "")
    if pm.renews is None:
        return t("portmap.status.permanent", method=pm.method, gateway=pm.gateway)
    return t("portmap.status.held", method=pm.method, gateway=pm.gateway, renews=local_time(pm.renews))


def _card(view: ServiceView, now: datetime) -> str:
    s = view.status
    e = escape
    mapping = s.mapping or t("status.none")
    disabled = "" if s.mapping else " disabled"
    target = f"{s.local} → {s.remote}" if s.remote else s.local
    mode = t(f"status.page.mode_{s.mode}")
    rows = [
        (t("status.page.mapping"),
         f'<code data-field="mapping">{e(mapping)}</code>'
         f'<button type="button" class="copy" data-copy="{e(s.mapping or "")}"{disabled}>'
         f'{e(t("status.page.copy"))}</button>'),
        (t("status.page.dns"),
         f'<span data-field="dns">{e(s.dns.name or t("status.none"))}</span>'
         f' (<span data-field="dns_state">{e(t(f"status.dns.{s.dns.state}"))}</span>)'),
        (t("status.page.since"), f'<span data-field="since">{e(local_time(s.since))}</span>'),
        (t("status.page.remaps"), f'<span data-field="remaps">{s.remaps}</span>'),
        (t("status.page.reachable"),
         f'<span data-field="reachable">{e(t(REACH_KEYS[s.reachable]))}</span>'),
        (t("status.page.last_publish"),
         f'<span data-field="last_ok">{e(local_time(s.dns.last_ok))}</span>'
         f' <span class="error" data-field="dns_error">{e(s.dns.error or "")}</span>'),
        (t("status.page.local"), f'<span data-field="local">{e(target)} ({e(mode)})</span>'),
        (t("portmap.status.label"), f'<span data-field="portmap">{e(_portmap(s))}</span>'),
    ]
    items = "\n".join(f"<dt>{e(label)}</dt><dd>{value}</dd>" for label, value in rows)
    return f"""<section class="card" data-service="{e(s.name)}">
<h2>{e(s.name)} <span class="tag" data-field="kind">{e(s.type)} / {e(s.proto.upper())}</span>
<span class="tag state-{e(s.state)}" data-field="state">{e(t(f"status.state.{s.state}"))}</span></h2>
<dl>
{items}
</dl>
<p class="error" data-field="error">{e(s.error or "")}</p>
{_timeline(view, now)}
</section>"""


def _timeline(view: ServiceView, now: datetime) -> str:
    """The last 24 h: one bar per mapping (alternating shades), a tick at every change."""
    start = now - HISTORY_WINDOW
    span = HISTORY_WINDOW.total_seconds()

    def x(moment: datetime) -> float:
        return round(max(0.0, min(span, (moment - start).total_seconds())) / span * TIMELINE_WIDTH, 1)

    shapes = [f'<rect class="gap" x="0" y="0" width="{TIMELINE_WIDTH}" height="{TIMELINE_HEIGHT}"/>']
    events = view.history
    for index, event in enumerate(events):
        end = events[index + 1].at if index + 1 < len(events) else now
        x0, x1 = x(event.at), x(end)
        label = escape(t("status.page.segment", mapping=event.mapping, since=local_time(event.at)))
        shapes.append(f'<rect class="seg{index % 2}" x="{x0}" y="0" width="{max(1.0, round(x1 - x0, 1))}" '
                      f'height="{TIMELINE_HEIGHT}"><title>{label}</title></rect>')
        if event.at > start and index > 0:
            shapes.append(f'<line class="tick" x1="{x0}" y1="0" x2="{x0}" y2="{TIMELINE_HEIGHT}">'
                          f"<title>{label}</title></line>")
    caption = escape(t("status.page.timeline", count=sum(1 for ev in events[1:] if ev.at > start)))
    body = "".join(shapes)
    return f"""<div class="timeline"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {TIMELINE_WIDTH} \
{TIMELINE_HEIGHT}" preserveAspectRatio="none" role="img" aria-label="{caption}"><title>{caption}</title>{body}</svg>
<div class="axis"><span>{escape(t("status.page.ago_24h"))}</span><span>{caption}</span>\
<span>{escape(t("status.page.now"))}</span></div></div>"""

