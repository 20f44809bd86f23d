"use strict";
// The sandbox viewer, the page's side of the world views (viewer-views.js renders them): routing,
// polling, the demo banner, incident badges in the channel list, the activity panel's memory, and
// the command box's option hints. viewer.js hands it its helpers with WORLD.init().

const WORLD = (() => {
  if (typeof document === "undefined") return null;
  const $ = (id) => document.getElementById(id);
  let page = null;  // {api, toast}
  const data = { x: {}, github: {}, ops: {}, chain: {} };
  let demoSig = "", bannerHidden = false, optTimer = null, optSig = "";
  const LOG_KEY = "sandbox.log";

  function routeOf(hash) {
    const m = /^(x|github|ops|chain)(?:\/(.*))?$/.exec(hash || "");
    return m ? { name: m[1], route: m[2] ? m[2].split("/") : [] } : null;
  }

  function navHtml() {
    const on = S.view ? S.view.name : null;
    return `<div class="cat">World</div>` + Object.entries(VIEWS).map(([k, v]) =>
      `<a class="chan${on === k ? " on" : ""}" href="#${k}" data-view="${k}"><span class="hash">${v.icon}</span><span class="n">${esc(v.label)}</span></a>`).join("");
  }
  function renderNav() { const html = navHtml(); if ($("worldnav").innerHTML !== html) $("worldnav").innerHTML = html; }

  async function load(name) {
    const api = page.api;
    if (name === "x") data.x = { posts: await api("GET", "/_sandbox/x/posts") };
    if (name === "github") {
      const [issues, refs, deployments] = await Promise.all([api("GET", "/_sandbox/github/issues"), api("GET", "/_sandbox/github/refs"), api("GET", "/_sandbox/github/deployments")]);
      const r = S.view && S.view.route;
      const n = r && r[0] === "issues" && /^\d+$/.test(r[1] || "") ? r[1] : null;
      const comments = n && issues.some((i) => String(i.number) === n) ? await api("GET", `/_sandbox/github/issues/${n}/comments`) : [];
      data.github = { issues, refs, deployments, comments };
    }
    if (name === "ops") data.ops = await api("GET", "/_sandbox/ops-repo/files");
    if (name === "chain") {
      try {
        const [state, blocks, proposals] = await Promise.all([api("GET", "/_sandbox/chain/state"), api("GET", "/_sandbox/chain/blocks?limit=15"), api("GET", "/_sandbox/chain/proposals")]);
        data.chain = { state, blocks, proposals };
      } catch (e) { data.chain = { error: e.message }; }
    }
  }

  function render(scroll) {
    const v = S.view;
    if (!v) return;
    const html = v.name === "x" ? xViewHtml(data.x, v.route[0]) : v.name === "github" ? githubViewHtml(data.github, v.route)
      : v.name === "ops" ? opsViewHtml(data.ops, v.route.join("/")) : chainViewHtml(data.chain);
    const box = $("view");
    if (box.dataset.sig === html) return;
    const top = box.scrollTop;
    const typed = $("advanceBy") ? $("advanceBy").value : null;  // keep what is being typed
    box.innerHTML = html;
    if (typed !== null && $("advanceBy")) $("advanceBy").value = typed;
    box.dataset.sig = html;
    box.scrollTop = top;
    const focus = box.querySelector(".focus");
    if (scroll && focus) focus.scrollIntoView({ block: "center" });
    if (v.name === "chain") wireChain();
  }

  function wireChain() {
    const run = async (button, path, body, what) => {
      button.disabled = true;
      try { const s = await page.api("POST", path, body); page.toast(what, `block ${esc(s.block)}, chain time ${esc(new Date(s.time).toLocaleString())}`, "ok"); }
      catch (e) { page.toast(`${what}: refused`, esc(e.message), "err"); }
      finally { button.disabled = false; }
      await refreshView();
    };
    if ($("mineBtn")) $("mineBtn").onclick = () => run($("mineBtn"), "/_sandbox/chain/mine", { blocks: 1 }, "Mined a block");
    if ($("advanceBtn")) $("advanceBtn").onclick = () => {
      const seconds = Number($("advanceBy").value);
      if (!Number.isInteger(seconds) || seconds < 1) { page.toast("Advance time", "Give a whole number of seconds (at least 1).", "err"); return; }
      run($("advanceBtn"), "/_sandbox/chain/advance", { seconds }, `Advanced chain time by ${seconds} s`);
    };
  }

  async function refreshView(scroll) {
    if (!S.view) return;
    const name = S.view.name;
    try { await load(name); } catch (e) { /* shown on the next poll */ }
    if (S.view && S.view.name === name) render(scroll);
  }

  function show(view) {
    S.view = view;
    document.body.classList.add("viewing");
    const v = VIEWS[view.name];
    $("head").innerHTML = `<span class="name"><span class="hash">${v.icon}</span>${esc(v.label)}</span>`;
    $("view").dataset.sig = "";
    renderNav();
    document.querySelectorAll("#channels .chan").forEach((el) => el.classList.remove("on"));
    refreshView(true);
  }
  function hide() {
    if (!S.view) return;
    S.view = null;
    document.body.classList.remove("viewing");
    renderNav();
  }

  async function pollDemo() {
    let demo;
    try { demo = await page.api("GET", "/_sandbox/demo"); } catch (e) { return; }
    const sig = JSON.stringify(demo);
    if (sig === demoSig) return;
    demoSig = sig;
    const html = bannerHtml(demo);
    $("banner").innerHTML = html;
    $("banner").style.display = html && !bannerHidden ? "flex" : "none";
  }
  async function pollIncidents() {
    let list;
    try { list = await page.api("GET", "/_sandbox/incidents"); } catch (e) { return false; }
    const next = Object.fromEntries(list.map((i) => [i.channel_id, i]));
    const changed = JSON.stringify(next) !== JSON.stringify(S.incidents);
    S.incidents = next;
    return changed;
  }
  function badge(channelId) {
    const i = S.incidents[channelId];
    if (!i) return "";
    const state = STATE_LABEL[i.state] || i.state;
    return `<span class="badges">${i.severity ? `<span class="sev ${esc(i.severity.toLowerCase())}" title="severity ${esc(i.severity)}">${esc(i.severity)}</span>` : ""}` +
      `<span class="state ${esc(state)}" title="incident #${esc(i.incident)}: ${esc(state)}">${esc(state)}</span></span>`;
  }

  // The activity panel survives a reload: its entries are kept in localStorage (the last 200).
  // A restarted world is a new guild: the history of another guild is dropped once the world is known.
  let logGuild = null;
  function saveLog() { try { localStorage.setItem(LOG_KEY, JSON.stringify({ guild: S.world ? S.world.guild_id : logGuild, html: $("entries").innerHTML })); } catch (e) { /* no storage */ } }
  function restoreLog() {
    try { const kept = JSON.parse(localStorage.getItem(LOG_KEY) || "null"); if (kept && kept.html) { $("entries").innerHTML = kept.html; logGuild = kept.guild; } } catch (e) { /* no storage */ }
  }
  function checkLogGuild() {
    if (!S.world || logGuild === undefined) return;
    if (logGuild && logGuild !== S.world.guild_id) $("entries").innerHTML = "";
    logGuild = undefined;
    saveLog();
  }

  // The command box offers what Discord's client offers: the command's options, a choice
  // option's choices, and the bot's suggestions for an autocomplete option.
  function parseLine(text) {
    const m = /^\/(\S+)(?:\s+(\S+))?(?:\s+(\S+))?/.exec(text);
    if (!m) return null;
    const cmd = S.commands.find((c) => c.name === m[1] && (c.type || 1) === 1);
    if (!cmd) return null;
    let opts = cmd.options || [], sub = null, group = null;
    const g = opts.find((o) => o.type === 2 && o.name === m[2]);
    if (g) { group = g.name; opts = g.options || []; }
    const s = opts.find((o) => o.type === 1 && o.name === (group ? m[3] : m[2]));
    if (s) { sub = s.name; opts = s.options || []; }
    if (opts.some((o) => o.type === 1 || o.type === 2)) return { cmd, group, sub, opts, needsSub: true };
    const tokens = [...text.matchAll(/(?:^|\s)([\w-]+):/g)].map((t) => ({ name: t[1], at: t.index + t[0].length }));
    const values = {};
    tokens.forEach((t, k) => { values[t.name] = text.slice(t.at, k + 1 < tokens.length ? tokens[k + 1].at - tokens[k + 1].name.length - 1 : text.length).trim().replace(/^"(.*)"$/, "$1"); });
    const last = tokens[tokens.length - 1];
    const focused = last && text.slice(last.at).indexOf(" ") === -1 || (last && opts.find((o) => o.name === last.name && (o.autocomplete || o.choices))) ? last : null;
    return { cmd, group, sub, opts, values, focused, head: focused ? text.slice(0, focused.at) : text };
  }
  function optionsHint() {
    const text = $("text").value;
    const p = text.startsWith("/") ? parseLine(text) : null;
    if (!p) { $("optbar").innerHTML = ""; optSig = ""; return; }
    if (p.needsSub) {
      const subs = p.opts.filter((o) => o.type === 1 || o.type === 2);
      setBar(`<span class="kind">/${esc(p.cmd.name)}${p.group ? " " + esc(p.group) : ""}:</span> ` + subs.map((o) => `<button type="button" class="opt" data-fill="${esc(`/${p.cmd.name} ${p.group ? p.group + " " : ""}${o.name} `)}" title="${esc(o.description || "")}">${esc(o.name)}</button>`).join(""));
      return;
    }
    const focusedOpt = p.focused && p.opts.find((o) => o.name === p.focused.name);
    const chips = p.opts.map((o) => `<span class="optname${o.required ? " req" : ""}${p.values[o.name] !== undefined ? " set" : ""}${focusedOpt === o ? " on" : ""}" title="${esc(o.description || "")}">${esc(o.name)}${o.required ? "" : "?"}</span>`).join("");
    let pick = "";
    if (focusedOpt && focusedOpt.choices) {
      const typed = (p.values[focusedOpt.name] || "").toLowerCase();
      pick = focusedOpt.choices.filter((c) => String(c.name).toLowerCase().includes(typed) || String(c.value).toLowerCase().includes(typed))
        .map((c) => `<button type="button" class="opt" data-fill="${esc(p.head + c.value + " ")}">${esc(c.name)}</button>`).join("");
      setBar(chips + (pick ? `<div class="picks">${pick}</div>` : ""));
      return;
    }
    setBar(chips + (focusedOpt && focusedOpt.autocomplete ? `<div class="picks" id="acpicks"><span class="kind">asking the bot…</span></div>` : "") +
      (focusedOpt ? `<span class="kind">${esc(focusedOpt.description || "")}</span>` : ""));
    if (focusedOpt && focusedOpt.autocomplete) {
      clearTimeout(optTimer);
      optTimer = setTimeout(() => autocomplete(p, focusedOpt), 250);
    }
  }
  function setBar(html) { if (html !== optSig) { $("optbar").innerHTML = html; optSig = html; } }
  async function autocomplete(p, opt) {
    const options = { ...p.values };
    const body = { user_id: S.actor, channel_id: S.current, name: p.cmd.name, subcommand: p.sub || undefined, options, focused: opt.name };
    let answer;
    try { answer = await page.api("POST", "/_sandbox/autocomplete", body); } catch (e) { if ($("acpicks")) $("acpicks").innerHTML = `<span class="err">${esc(e.message)}</span>`; return; }
    if (!$("acpicks")) return;
    const choices = answer.choices || [];
    $("acpicks").innerHTML = choices.map((c) => `<button type="button" class="opt" data-fill="${esc(p.head + c.value + " ")}">${esc(c.name)}</button>`).join("") || `<span class="kind">no suggestions</span>`;
    optSig = $("optbar").innerHTML;
  }

  document.addEventListener("click", (ev) => {
    const t = ev.target.closest("[data-fill],[data-dismiss-banner],[data-view-go]");
    if (!t) return;
    if (t.dataset.fill) { $("text").value = t.dataset.fill; $("text").focus(); optionsHint(); }
    else if (t.dataset.dismissBanner) { bannerHidden = true; $("banner").style.display = "none"; }
    else if (t.dataset.viewGo) location.hash = t.dataset.viewGo;
  });

  return {
    init(ctx) { page = ctx; restoreLog(); renderNav(); $("text").addEventListener("input", optionsHint); },
    routeOf, show, hide, badge, saveLog, optionsHint,
    async poll() {
      checkLogGuild();
      pollDemo();
      if (await pollIncidents()) { S.chanSig = ""; return true; }
      if (S.view) refreshView(false);
      return false;
    },
  };
})();
