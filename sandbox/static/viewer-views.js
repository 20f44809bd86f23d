"use strict";
// The sandbox viewer, the world beyond Discord: X, GitHub, the ops repository, the chain, and the
// demo's banner. Each view is reached by the page's hash (#x, #github, #ops, #chain) and from the
// links the bot posts (the world redirects them here). Reads only through the control API.

const SVG = (d) => `<svg class="i" viewBox="0 0 24 24"><path d="${d}"/></svg>`;
const VIEWS = {
  x: { label: "X", icon: SVG("M4 3h4.5l4 5.6L17.3 3H20l-6.2 7.3L21 21h-4.5l-4.4-6.1L6.8 21H4l6.8-8z") },
  github: { label: "GitHub", icon: SVG("M7 3a3 3 0 0 1 1 5.8v6.4A3 3 0 1 1 6 15.2V8.8A3 3 0 0 1 7 3zm10 0a3 3 0 0 1 1 5.8V10a4 4 0 0 1-4 4h-4v-2h4a2 2 0 0 0 2-2V8.8A3 3 0 0 1 17 3z") },
  ops: { label: "Ops repository", icon: SVG("M6 2h9l5 5v15H6zm8 1.5V8h4.5zM8 12v2h10v-2zm0 4v2h10v-2z") },
  chain: { label: "Chain", icon: SVG("M10 14a4 4 0 0 1 0-5.7l3-3a4 4 0 0 1 5.7 5.7l-1.5 1.5-1.4-1.4 1.5-1.5a2 2 0 0 0-2.9-2.9l-3 3a2 2 0 0 0 0 2.9zm4-4a4 4 0 0 1 0 5.7l-3 3a4 4 0 0 1-5.7-5.7l1.5-1.5 1.4 1.4-1.5 1.5a2 2 0 0 0 2.9 2.9l3-3a2 2 0 0 0 0-2.9z") },
};
const STATE_LABEL = { declared: "open", opening: "open", acknowledged: "acknowledged", mitigated: "mitigated", resolved: "resolved", closed: "closed", archived: "archived" };

// A link the bot posted that the world serves: the viewer's own hash for it (else null).
function viewHash(url) {
  if (typeof location === "undefined" || !url || !url.startsWith(location.origin + "/")) return null;
  const path = url.slice(location.origin.length);
  let m;
  if ((m = /^\/x\/(?:i\/web|[^/]+)\/status\/(\d+)/.exec(path))) return `x/${m[1]}`;
  if ((m = /^\/github\/[^/]+\/[^/]+\/issues\/(\d+)/.exec(path))) return `github/issues/${m[1]}`;
  if ((m = /^\/github\/[^/]+\/[^/]+\/tree\/(.+)$/.exec(path))) return `github/refs/${m[1]}`;
  if (/^\/github\//.test(path)) return "github";
  if ((m = /^\/#(.+)$/.exec(path))) return m[1];
  return null;
}

// GitHub-flavoured Markdown, as far as the ops repository needs: pipe tables, then Discord's.
function gfm(text, o = {}) {
  const lines = String(text || "").replace(/\r\n?/g, "\n").replace(/<!--[\s\S]*?-->\n?/g, "").split("\n");  // comments: hidden, as on GitHub
  const out = [];
  let plain = [];
  const flush = () => { if (plain.length) out.push(markdown(plain.join("\n"), o)); plain = []; };
  const cells = (line) => line.trim().replace(/^\||\|$/g, "").split(/(?<!\\)\|/).map((c) => c.trim());
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*\|/.test(lines[i]) && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1])) {
      flush();
      const head = cells(lines[i]);
      const rows = [];
      i += 2;
      while (i < lines.length && /^\s*\|/.test(lines[i])) rows.push(cells(lines[i++]));
      i--;
      out.push(`<table class="gfm"><thead><tr>${head.map((h) => `<th>${inline(h, o)}</th>`).join("")}</tr></thead><tbody>` +
        rows.map((r) => `<tr>${head.map((_, k) => `<td>${inline((r[k] || "").replace(/^<(https?:[^>]+)>$/, "$1"), o)}</td>`).join("")}</tr>`).join("") + `</tbody></table>`);
    } else plain.push(lines[i]);
  }
  flush();
  return `<div class="md gfm-doc">${out.join("")}</div>`;
}

const when = (iso) => { const d = new Date(iso); return isNaN(d.getTime()) ? "" : `<span class="when" title="${esc(fullDate(d))}">${esc(calendar(d))}</span>`; };
const short = (hex, n = 10) => esc(String(hex || "").slice(0, n)) + (String(hex || "").length > n ? "…" : "");
const chip = (text, cls) => `<span class="chip ${cls || ""}">${esc(text)}</span>`;

// ------------------------------------------------------------------ X
function xViewHtml(data, focus) {
  const handle = (S.world && S.world.x && S.world.x.handle) || "atrium_status";
  const posts = data.posts || [];
  const byParent = {};
  posts.forEach((p) => (byParent[p.reply_to && posts.some((q) => q.id === p.reply_to) ? p.reply_to : ""] ||= []).push(p));
  const post = (p, depth) => `<div class="xpost${p.id === focus ? " focus" : ""}${depth ? " reply" : ""}" id="x-${esc(p.id)}">` +
    `<div class="avatar sm xav">A</div><div class="xbody">` +
    `<div class="meta"><span class="who">Atrium</span><span class="when">@${esc(handle)}</span>·${when(p.at)}</div>` +
    (p.reply_to ? `<div class="kind">Replying to @${esc(handle)}</div>` : "") +
    `<div class="xtext">${inline(p.text, { noMentions: true })}</div>` +
    `<div class="kind">post ${esc(p.id)}</div></div></div>` +
    (byParent[p.id] || []).slice().sort((a, b) => (a.at < b.at ? -1 : 1)).map((r) => post(r, depth + 1)).join("");
  const roots = (byParent[""] || []).slice().sort((a, b) => (a.at < b.at ? 1 : -1));
  return `<div class="vhead"><b>@${esc(handle)}</b><span class="kind">the account the bot posts status updates with; replies are threaded under their post</span></div>` +
    (roots.map((p) => `<div class="xthread">${post(p, 0)}</div>`).join("") || `<div class="empty">No posts on X yet. A P0 or P1 asks for approval in its channel; once approved, the post appears here.</div>`);
}

// ------------------------------------------------------------------ GitHub
function githubViewHtml(data, route) {
  const [tab, arg] = route;
  const issues = data.issues || [], refs = data.refs || [], deployments = data.deployments || [];
  const tabs = [["issues", `Issues (${issues.length})`], ["refs", `Branches (${refs.length})`], ["deployments", `Deployments (${deployments.length})`]];
  const active = tab || "issues";
  const gh = S.world && S.world.github ? `${S.world.github.owner}/${S.world.github.repo}` : "";
  let body = "";
  if (active === "issues") {
    body = issues.slice().reverse().map((i) => {
      const open = String(i.number) === arg;
      return `<div class="card${open ? " focus" : ""}" id="gh-issue-${esc(i.number)}"><div class="ctitle" data-view-go="github/issues/${esc(i.number)}">` +
        `${chip(i.state, i.state === "open" ? "ok" : "dim")} <b>${esc(i.title)}</b> <span class="kind">#${esc(i.number)}</span> ${(i.labels || []).map((l) => chip(l, "label")).join(" ")}</div>` +
        (open ? `<div class="cbody">${gfm(i.body)}${(data.comments || []).map((c) => `<div class="comment"><div class="kind">comment · ${when(c.at)}</div>${gfm(c.body)}</div>`).join("")}</div>` : "") + `</div>`;
    }).join("") || `<div class="empty">No issues yet. An incident&#39;s ticket appears here (<code>/mitigate ticket</code> in a P2 or P3 channel).</div>`;
  } else if (active === "refs") {
    body = `<table class="gfm"><thead><tr><th>Branch</th><th>Commit</th></tr></thead><tbody>` + refs.map((r) => {
      const name = r.ref.replace(/^refs\/heads\//, "");
      return `<tr class="${name === arg ? "focus" : ""}"><td><code>${esc(name)}</code></td><td><code>${short(r.sha, 12)}</code></td></tr>`;
    }).join("") + `</tbody></table>`;
  } else {
    body = deployments.map((d) => {
      const last = (d.statuses || [])[d.statuses.length - 1];
      return `<div class="card"><div class="ctitle">${chip(last ? last.state : "pending", last && last.state === "success" ? "ok" : last && /fail|error/.test(last.state) ? "bad" : "dim")} <b>${esc(d.environment)}</b> <code>${esc(d.ref)}</code> <span class="kind">${short(d.sha, 12)} · ${when(d.created_at)}</span></div></div>`;
    }).join("") || `<div class="empty">No deployments yet (a P1 hotfix is deployed with <code>POST /_sandbox/github/deployments</code>).</div>`;
  }
  return `<div class="vhead"><b>${esc(gh)}</b><span class="tabs">${tabs.map(([k, l]) => `<a class="tab${k === active ? " on" : ""}" href="#github/${k}">${esc(l)}</a>`).join("")}</span></div>${body}`;
}

// ------------------------------------------------------------------ the ops repository
function opsViewHtml(data, path) {
  const files = (data.files || []).slice().sort((a, b) => (a.path.startsWith("incidents/") === b.path.startsWith("incidents/") ? (a.path < b.path ? 1 : -1) : a.path.startsWith("incidents/") ? -1 : 1));
  const chosen = files.find((f) => f.path === path) || files.find((f) => f.path.startsWith("incidents/")) || files.find((f) => f.path === "docs/plan-tracker.md") || files[0];
  const list = files.map((f) => `<a class="file-item${chosen && f.path === chosen.path ? " on" : ""}" href="#ops/${esc(f.path)}" title="${esc(f.path)}">${esc(f.path)}</a>`).join("");
  const commits = (data.commits || []).map((c) => `<div class="commit"><code>${short(c.sha, 8)}</code> ${esc(c.subject)} <span class="kind">${esc(c.author)} · ${when(c.at)}</span></div>`).join("");
  return `<div class="vhead"><b>ops repository</b><span class="kind">main: the postmortems in incidents/, the action items in docs/plan-tracker.md</span></div>` +
    `<div class="ops"><div class="files">${list}<div class="lbl">Latest commits</div>${commits}</div>` +
    `<div class="doc">${chosen ? `<div class="path">${esc(chosen.path)}</div>${gfm(chosen.text)}` : `<div class="empty">Nothing here yet.</div>`}</div></div>`;
}

// ------------------------------------------------------------------ the chain
function chainViewHtml(data) {
  const s = data.state;
  if (!s) return `<div class="vhead"><b>Chain</b></div><div class="empty">${esc(data.error || "The world has no chain: run make node, then restart the sandbox.")}</div>`;
  const conf = s.confirmations == null ? "" : `timelock: ${s.confirmations} pending confirmation(s), threshold ${s.threshold ?? "?"}`;
  const head = `<div class="vhead"><b>Chain ${esc(s.chain_id)}</b><span class="kind">anvil at ${esc(s.rpc_url)} · block ${esc(s.block)} · chain time ${when(s.time)}</span></div>` +
    `<div class="chainbar"><span>Vault ${s.paused ? chip("paused", "bad") : chip("running", "ok")}</span><span class="kind">${esc(conf)}</span><span style="flex:1"></span>` +
    `<button type="button" id="mineBtn">Mine a block</button><input id="advanceBy" type="number" min="1" value="3600" title="seconds"><button type="button" id="advanceBtn">Advance time</button></div>`;
  const proposals = (data.proposals || []).slice().reverse().map((p) => `<div class="card"><div class="ctitle"><b>${inline(p.title, { noLinks: true })}</b> <span class="kind">${when(p.at)}</span> ${channelChip(p.channel_id, p.message_id)}</div><div class="cbody md">${markdown(p.description)}</div></div>`).join("") ||
    `<div class="empty">No emergency action proposed yet (<code>/mitigate pause</code> in a P0's channel).</div>`;
  const contracts = (s.contracts || []).map((c) => `<tr><td>${esc(c.name)}</td><td><code>${esc(c.address)}</code></td></tr>`).join("");
  const blocks = (data.blocks || []).map((b) => `<tr><td>${esc(b.number)}</td><td>${when(b.time)}</td><td>${(b.transactions || []).map((t) =>
    `<div class="tx">${chip(t.status, t.status === "ok" ? "ok" : "bad")} <b>${esc(t.from_name || short(t.from))}</b> → <b>${esc(t.to_name || short(t.to))}</b> <code>${esc(t.function || "ETH transfer")}</code> <span class="kind">${short(t.hash, 12)}</span></div>`).join("") || `<span class="kind">no transactions</span>`}</td></tr>`).join("");
  return head + `<div class="cols"><div><div class="lbl">Proposals</div>${proposals}</div>` +
    `<div><div class="lbl">Blocks (newest first)</div><table class="gfm blocks"><thead><tr><th>#</th><th>time</th><th>transactions</th></tr></thead><tbody>${blocks}</tbody></table>` +
    `<div class="lbl">Contracts</div><table class="gfm"><tbody>${contracts}</tbody></table></div></div>`;
}

// ------------------------------------------------------------------ the demo's banner
function bannerHtml(demo) {
  const steps = (demo && demo.steps) || [];
  if (!steps.length) return "";
  const last = steps[steps.length - 1];
  const where = demo.done ? "Demo finished" : `Demo · step ${esc(last.step)} of ${esc(last.total)}`;
  return `<span class="bt">${where}</span><span class="bx">${inline(last.text, { noLinks: true })}</span>` +
    (demo.done ? `<button type="button" data-dismiss-banner="1" title="Hide">✕</button>` : "");
}
