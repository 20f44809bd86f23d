"use strict";
// The sandbox viewer, part 3 of 3: the page. Reads and writes only through the control API
// (/_sandbox/...).

// ------------------------------------------------------------------ the page (only in a browser)
if (typeof document !== "undefined") {
const $ = (id) => document.getElementById(id);

const api = async (method, path, body) => {
  const r = await fetch(path, { method, headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && (data.error || data.message)) || `HTTP ${r.status}`);
  return data;
};

function toast(title, html, kind) {
  const div = document.createElement("div");
  div.className = "toast" + (kind ? " " + kind : "");
  div.innerHTML = `<div class="t">${esc(title)}</div>${html || ""}`;
  div.onclick = () => div.remove();
  $("toasts").appendChild(div);
  while ($("toasts").children.length > 4) $("toasts").firstChild.remove();
  setTimeout(() => div.remove(), kind === "err" ? 9000 : 6000);
}
function log(headHtml, bodyHtml, error) {
  const div = document.createElement("div");
  div.className = "entry" + (error ? " err" : "");
  div.innerHTML = `<div class="head"><span class="when">${esc(new Date().toLocaleTimeString())}</span>${headHtml}</div>${bodyHtml || ""}`;
  $("entries").prepend(div);
  while ($("entries").children.length > 200) $("entries").lastChild.remove();
  WORLD.saveLog();
}
WORLD.init({ api, toast });

async function loadWorld() {
  let world;
  try { world = await api("GET", "/_sandbox/world"); } catch (e) { return; }
  const sig = JSON.stringify([world.users, world.roles, world.channels]);
  const first = !S.world;
  S.world = world;
  if (sig === S.worldSig) return;
  S.worldSig = sig;
  S.worldVersion++;
  S.users = Object.fromEntries(world.users.map((u) => [u.id, u]));
  S.roles = Object.fromEntries(world.roles.map((r) => [r.id, r]));
  S.channels = Object.fromEntries(world.channels.map((c) => [c.id, c]));
  renderActors();
  renderChannels();
  if (first) {
    loadCommands();
    if (!fromHash()) { const c = world.channels.find((x) => x.name === "ops-alerts") || world.channels.find((x) => x.type !== 4); if (c) select(c.id); }
  } else if (S.current) { renderHead(); S.renderSig = ""; refresh(); }
}

function renderActors() {
  const actor = $("actor");
  let want = S.actor && S.users[S.actor] ? S.actor : null;
  if (!want) { try { const n = localStorage.getItem("sandbox.actor"); const u = S.world.users.find((x) => x.name === n); if (u) want = u.id; } catch (e) { /* no storage */ } }
  actor.innerHTML = S.world.users.map((u) => `<option value="${esc(u.id)}">${esc(u.display_name || u.name)} (@${esc(u.name)})</option>`).join("");
  if (want) actor.value = want;
  setActor(actor.value);
}
function setActor(id) {
  S.actor = id;
  const u = S.users[id];
  if (u) { try { localStorage.setItem("sandbox.actor", u.name); } catch (e) { /* no storage */ } }
  $("meAvatar").outerHTML = avatarHtml(id, "sm").replace('<div class="avatar sm"', '<div id="meAvatar" class="avatar sm"');
  $("meRoles").innerHTML = u && u.roles.length ? u.roles.map((r) => `<span class="rolechip">${esc(r)}</span>`).join("") : `<span class="rolechip">no roles</span>`;
  $("as").innerHTML = `${avatarHtml(id, "sm")}<span>as <b>${esc(displayName(id))}</b></span>`;
  $("as").title = u ? `Posting and running commands as @${u.name}` : "";
  renderPlaceholder();
}
function renderPlaceholder() {
  const c = S.channels[S.current];
  $("text").placeholder = c ? `Message #${c.name}, or /command [subcommand] option:value` : "Pick a channel";
}

function renderChannels() {
  const byParent = {};
  S.world.channels.forEach((c) => (byParent[c.parent_id || ""] ||= []).push(c));
  const sorted = (list) => (list || []).slice().sort((a, b) => a.position - b.position || (a.id.length - b.id.length) || (a.id < b.id ? -1 : 1));
  const isThread = (c) => c.type === 10 || c.type === 11 || c.type === 12;
  const item = (c, cls) => `<div class="chan ${cls || ""}${S.incidents[c.id] ? " inc" : ""}${S.current === c.id && !S.view ? " on" : ""}" data-channel="${esc(c.id)}" title="${esc(c.name + (c.topic ? " — " + c.topic : ""))}">` +
    `<span class="hash">${isThread(c) ? ICONS.thread : c.type === 2 ? "♪" : "#"}</span><span class="n">${esc(c.name)}</span>${WORLD.badge(c.id)}</div>` +
    sorted(byParent[c.id]).filter(isThread).map((t) => item(t, "thread")).join("");
  const top = sorted(byParent[""]);
  const html = top.filter((c) => c.type !== 4 && !isThread(c)).map((c) => item(c)).join("") +
    top.filter((c) => c.type === 4).map((cat) => `<div class="cat">${esc(cat.name)}</div>` +
      (sorted(byParent[cat.id]).filter((c) => !isThread(c)).map((c) => item(c)).join("") || `<div class="chan" style="cursor:default;font-style:italic">empty</div>`)).join("");
  if (html !== S.chanSig) { $("channels").innerHTML = html; S.chanSig = html; }
}

function fromHash() {
  const h = decodeURIComponent(location.hash.replace(/^#/, ""));
  if (!h || !S.world) return false;
  const view = WORLD.routeOf(h);
  if (view) { WORLD.show(view); return true; }
  const c = S.channels[h] || S.world.channels.find((x) => x.name === h || x.name === h.replace(/^#/, ""));
  if (!c) return false;
  if (c.id !== S.current || S.view) select(c.id);
  return true;
}

function renderHead() {
  const c = S.channels[S.current];
  const pins = S.messages.filter((m) => m.pinned);
  $("head").innerHTML = c ? `<span class="name"><span class="hash">#</span>${esc(c.name)}</span>` +
    (c.topic ? `<span class="topic" title="${esc(c.topic)}">${inline(c.topic)}</span>` : `<span style="flex:1"></span>`) +
    `<button id="pinsBtn" type="button" title="Pinned messages (${pins.length})">${ICONS.pin}${pins.length ? `<span>${pins.length}</span>` : ""}</button>` : `<span class="name">${esc(S.current || "Pick a channel")}</span>`;
  $("pinsBtn") && ($("pinsBtn").onclick = togglePins);
  if ($("pinList").style.display === "block") renderPins();
}
function renderPins() {
  const pins = S.messages.filter((m) => m.pinned).reverse();
  $("pinList").innerHTML = `<div class="ph">Pinned messages</div>` + (pins.map((m) =>
    `<div class="pin-item" data-jump="${esc(m.id)}"><b>${esc(displayName(m.author_id))}</b> <span class="when">${esc(calendar(new Date(m.created_at)))}</span><div>${inline(snippet(m), { noLinks: true })}</div></div>`).join("") ||
    `<div class="pin-item" style="cursor:default;color:var(--dim)">This channel doesn't have any pinned messages yet.</div>`);
}
function togglePins() {
  const open = $("pinList").style.display === "block";
  $("pinList").style.display = open ? "none" : "block";
  if (!open) renderPins();
}

function select(id) {
  if (!S.channels[id]) return;
  const changed = S.current !== id || !!S.view;
  WORLD.hide();
  S.current = id;
  if (changed) { S.messages = []; S.byId = {}; S.renderSig = ""; S.scrollToEnd = true; $("messages").innerHTML = ""; $("pinList").style.display = "none"; }
  if (location.hash.slice(1) !== id) history.replaceState(null, "", "#" + id);
  document.querySelectorAll("#channels .chan").forEach((el) => el.classList.toggle("on", el.dataset.channel === id));
  S.chanSig = "";
  renderChannels();
  renderHead();
  renderPlaceholder();
  refresh();
}

function updateRelativeTimes() {
  document.querySelectorAll('.ts[data-style="R"]').forEach((el) => {
    const t = tsText(Number(el.dataset.ts), "R");
    if (el.textContent !== t) el.textContent = t;
  });
}

async function refresh() {
  if (!S.current || !S.world || S.view) return;
  const id = S.current;
  let messages;
  try { messages = await api("GET", `/_sandbox/channels/${id}/messages`); } catch (e) { return; }
  if (id !== S.current) return;
  S.messages = messages;
  S.byId = Object.fromEntries(messages.map((m) => [m.id, m]));
  const sig = JSON.stringify(messages) + "|" + S.actor + "|" + S.ephVersion + "|" + S.worldVersion + "|" + S.used.size;
  if (sig === S.renderSig) { updateRelativeTimes(); return; }
  S.renderSig = sig;
  const box = $("messages");
  const atBottom = S.scrollToEnd || box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
  const items = messages.map((m, i) => ({ at: new Date(m.created_at), m, prev: messages[i - 1] }));
  for (const e of S.eph.values()) if (e.channel === id) items.push({ at: e.at, e });
  items.sort((a, b) => a.at - b.at);
  let html = "", lastDay = null, prevMsg = null;
  for (const it of items) {
    if (!lastDay || !sameDay(lastDay, it.at)) { html += `<div class="day">${esc(it.at.toLocaleDateString([], { dateStyle: "long" }))}</div>`; prevMsg = null; }
    lastDay = it.at;
    if (it.e) { html += ephemeralHtml(it.e); prevMsg = null; } else { html += messageHtml(it.m, prevMsg); prevMsg = it.m; }
  }
  box.innerHTML = html || `<div class="empty">No messages in #${esc(S.channels[id] ? S.channels[id].name : id)} yet.</div>`;
  renderHead();
  if (atBottom) box.scrollTop = box.scrollHeight;
  S.scrollToEnd = false;
}

function jump(messageId) {
  const el = document.getElementById("m-" + messageId);
  if (!el) return false;
  el.scrollIntoView({ block: "center", behavior: "smooth" });
  el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
  return true;
}

// ------------------------------------------------------------------ acting
async function react(messageId, emoji, remove) {
  const body = { user_id: S.actor, channel_id: S.current, message_id: messageId, emoji };
  try { await api(remove ? "DELETE" : "POST", "/_sandbox/reactions", body); }
  catch (e) { toast("Reaction refused", esc(e.message), "err"); log(`${esc(displayName(S.actor))} reacted ${esc(emoji)}`, `<div class="err">${esc(e.message)}</div>`, true); }
  refresh();
}

// Take in the responses of an interaction: ephemeral ones are kept here (the channel listing never has them).
function absorb(responses, ctx) {
  let changed = false;
  responses.forEach((r, i) => {
    if (![4, 5, 7].includes(r.type)) return;
    const key = r.message_id || `${ctx.interaction}:${i}`;
    if (r.ephemeral || S.eph.has(key)) {
      const old = S.eph.get(key);
      S.eph.set(key, { key, channel: old ? old.channel : ctx.channel, actor: old ? old.actor : ctx.actor, label: old ? old.label : ctx.label, at: old ? old.at : new Date(), response: r });
      changed = true;
      if (r.type !== 5) for (const [k, v] of S.eph) if (k.startsWith(ctx.interaction + ":") && v.response.type === 5 && k !== key) S.eph.delete(k);
    } else if (r.message_id && ctx.command && (r.type === 4 || r.type === 5) && !S.used.has(r.message_id)) {
      S.used.set(r.message_id, { actor: ctx.actor, label: ctx.label });
      changed = true;
    }
  });
  if (changed) { S.ephVersion++; S.scrollToEnd = ctx.channel === S.current; }
}

// Channels the bot names may be new (a declared incident): learn them before rendering the answer.
async function learnChannels(responses) {
  const text = JSON.stringify(responses);
  const ids = [...text.matchAll(/<#(\d+)>|discord\.com\/channels\/\d+\/(\d+)/g)].map((m) => m[1] || m[2]);
  if (ids.some((id) => !S.channels[id])) await loadWorld();
}

async function handleAnswer(answer, ctx) {
  ctx.interaction = answer.interaction_id;
  const responses = answer.responses || [];
  await learnChannels(responses);
  absorb(responses, ctx);
  const text = summary(responses, answer.timed_out);
  const failed = answer.timed_out && !responses.length;
  log(`${esc(displayName(ctx.actor))} · ${esc(ctx.what)}`, responses.map(responseHtml).join("") || `<div class="kind${failed ? " err" : ""}">${esc(text)}</div>`, failed);
  const eph = responses.find((r) => r.ephemeral && r.content);
  toast(`${ctx.what}`, `<div>${esc(text)}</div>${eph ? `<div class="md" style="margin-top:4px;max-height:120px;overflow:hidden">${markdown(eph.content)}</div>` : ""}`, failed ? "err" : "ok");
  const modal = responses.find((r) => r.type === 9);
  if (modal) openModal(modal, ctx);
  const last = responses[responses.length - 1];
  const thinking = !responses.length || (last && (last.type === 5 || last.type === 6));
  S.pending.set(answer.interaction_id, { seen: responses.length, until: Date.now() + (thinking ? 120000 : 20000), ctx });
  refresh();
}

async function pollPending() {
  for (const [id, p] of S.pending) {
    if (Date.now() > p.until) { S.pending.delete(id); continue; }
    let answer;
    try { answer = await api("GET", `/_sandbox/interactions/${id}`); } catch (e) { S.pending.delete(id); continue; }
    const responses = answer.responses || [];
    if (responses.length <= p.seen) continue;
    const fresh = responses.slice(p.seen);
    p.seen = responses.length;
    await learnChannels(fresh);
    absorb(responses, p.ctx);
    log(`${esc(displayName(p.ctx.actor))} · ${esc(p.ctx.what)} (later)`, fresh.map(responseHtml).join(""));
    const eph = fresh.find((r) => r.ephemeral && r.content);
    if (eph) toast(p.ctx.what, `<div class="md" style="max-height:120px;overflow:hidden">${markdown(eph.content)}</div>`, "ok");
    refresh();
  }
}

async function press(button, messageId, customId, channelId, label, values) {
  const ctx = { actor: S.actor, channel: channelId || S.current, what: values ? `picked ${values.join(", ")} in ${customId}` : `pressed “${label || customId}”`, label: label || customId };
  if (button) { button.disabled = true; button.classList.add("busy"); }
  try {
    await handleAnswer(await api("POST", "/_sandbox/components", { user_id: ctx.actor, channel_id: ctx.channel, message_id: messageId, custom_id: customId, values }), ctx);
  } catch (e) {
    toast(`Could not press “${label || customId}”`, esc(e.message), "err");
    log(`${esc(displayName(ctx.actor))} · ${esc(ctx.what)}`, `<div class="err">${esc(e.message)}</div>`, true);
  } finally { if (button) { button.disabled = false; button.classList.remove("busy"); } }
  refresh();
}

function openModal(modal, ctx) {
  const inputs = [], texts = [], labels = {};
  const walk = (list) => (list || []).forEach((c) => {
    if (c.type === 4) inputs.push(c);
    if (c.type === 10 && c.content) texts.push(c.content);
    if (c.type === 18 && c.component) labels[c.component.custom_id] = c;
    walk(c.components); if (c.component) walk([c.component]);
  });
  walk(modal.components);
  $("modalForm").innerHTML = `<div class="mt">${esc(modal.title)}</div>` + texts.map((t) => `<div class="md">${markdown(t)}</div>`).join("") +
    inputs.map((i) => {
      const lab = labels[i.custom_id];
      const attrs = `name="${esc(i.custom_id)}"${i.required !== false ? " required" : ""}${i.min_length ? ` minlength="${Number(i.min_length)}"` : ""}${i.max_length ? ` maxlength="${Number(i.max_length)}"` : ""} placeholder="${esc(i.placeholder || "")}"`;
      return `<label>${esc(i.label || (lab && lab.label) || i.custom_id)}${lab && lab.description ? `<span style="text-transform:none;font-weight:400">${esc(lab.description)}</span>` : ""}` +
        (i.style === 2 ? `<textarea ${attrs} rows="4">${esc(i.value || "")}</textarea>` : `<input ${attrs} value="${esc(i.value || "")}">`) + `</label>`;
    }).join("") +
    `<div class="actions"><button type="button" id="cancel">Cancel</button><button class="primary">Submit</button></div>`;
  $("modal").style.display = "flex";
  const first = $("modalForm").querySelector("input, textarea");
  if (first) first.focus();
  $("cancel").onclick = () => ($("modal").style.display = "none");
  $("modalForm").onsubmit = async (ev) => {
    ev.preventDefault();
    const fields = Object.fromEntries(new FormData($("modalForm")));
    $("modal").style.display = "none";
    const c2 = { actor: ctx.actor, channel: ctx.channel, what: `submitted “${modal.title}”`, label: ctx.label };
    try { await handleAnswer(await api("POST", "/_sandbox/modals", { user_id: c2.actor, channel_id: c2.channel, custom_id: modal.custom_id, fields }), c2); }
    catch (e) { toast("Form refused", esc(e.message), "err"); log(`${esc(displayName(c2.actor))} · ${esc(c2.what)}`, `<div class="err">${esc(e.message)}</div>`, true); }
    refresh();
  };
}

async function loadCommands() {
  try { S.commands = await api("GET", "/_sandbox/commands"); } catch (e) { return; }
  const lines = [];
  const walk = (prefix, opts) => {
    const subs = (opts || []).filter((o) => o.type === 1 || o.type === 2);
    if (!subs.length) {
      lines.push(prefix + (opts || []).filter((o) => o.required).map((o) => ` ${o.name}:`).join(""));
      return;
    }
    subs.forEach((s) => walk(`${prefix} ${s.name}`, s.options));
  };
  S.commands.filter((c) => (c.type || 1) === 1).forEach((c) => walk("/" + c.name, c.options));
  $("cmdlist").innerHTML = [...new Set(lines)].sort().map((l) => `<option value="${esc(l)}"></option>`).join("");
}

$("compose").onsubmit = async (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text || !S.current) return;
  $("text").value = "";
  WORLD.optionsHint();
  const actor = S.actor, channel = S.current;
  try {
    if (text.startsWith("/")) {
      // The world reads the line as Discord's client does: a value runs until the next option's name.
      const answer = await api("POST", "/_sandbox/commands", { command_line: text, user_id: actor, channel_id: channel });
      const c = answer.command || {};
      const label = "/" + [c.name, c.subcommand].filter(Boolean).join(" ");
      await handleAnswer(answer, { actor, channel, what: text, label, command: true });
    } else {
      await api("POST", "/_sandbox/messages", { user_id: actor, channel_id: channel, content: text });
      S.scrollToEnd = true;
    }
  } catch (e) {
    toast(text.startsWith("/") ? "Command refused" : "Message refused", esc(e.message), "err");
    log(`${esc(displayName(actor))} · ${esc(text)}`, `<div class="err">${esc(e.message)}</div>`, true);
    if (!$("text").value) $("text").value = text;
  }
  refresh();
};

$("fire").onclick = async () => {
  try {
    const answer = await api("POST", "/_sandbox/alerts", {});
    const ok = answer.status < 300;
    log(`Sample alert fired`, `<div class="kind${ok ? "" : " err"}">sent to ${esc(S.world.webhook.base_url)}/alerts/alertmanager → HTTP ${esc(answer.status)}</div>`, !ok);
    toast("Sample alert fired", `HTTP ${esc(answer.status)}`, ok ? "ok" : "err");
  } catch (e) { log("Alert not sent", `<div class="err">${esc(e.message)}</div>`, true); toast("Alert not sent", esc(e.message), "err"); }
};

$("as").onclick = () => { const a = $("actor"); a.focus(); try { a.showPicker(); } catch (e) { /* older browsers */ } };
$("actor").onchange = () => { setActor($("actor").value); S.renderSig = ""; refresh(); };

document.addEventListener("click", (ev) => {
  const t = ev.target.closest("[data-channel],[data-jump],[data-press],[data-emoji],[data-react-other],[data-dismiss],.spoiler");
  if (!t) { if (!ev.target.closest("#pinList,#pinsBtn")) $("pinList").style.display = "none"; return; }
  if (t.classList.contains("spoiler")) { t.classList.add("shown"); return; }
  if (t.dataset.press) { press(t, t.dataset.msg, t.dataset.press, t.dataset.chan, t.dataset.label); return; }
  if (t.dataset.emoji) { react(t.dataset.msg, t.dataset.emoji, !!t.dataset.mine); return; }
  if (t.dataset.reactOther) { const e = prompt("React with which emoji? (a character, or name:id for a custom one)"); if (e && e.trim()) react(t.dataset.reactOther, e.trim(), false); return; }
  if (t.dataset.dismiss) { S.eph.delete(t.dataset.dismiss); S.ephVersion++; refresh(); return; }
  if (t.dataset.channel) {
    ev.preventDefault();
    const target = t.dataset.jump;
    if (t.dataset.channel !== S.current) { select(t.dataset.channel); if (target) setTimeout(() => jump(target), 700); }
    else if (target) jump(target);
    return;
  }
  if (t.dataset.jump) { $("pinList").style.display = "none"; if (!jump(t.dataset.jump)) toast("Message not found", "It may have been deleted.", "err"); }
});
document.addEventListener("change", (ev) => {
  const s = ev.target.closest("select[data-pick]");
  if (!s) return;
  const values = [...s.selectedOptions].map((o) => o.value).filter(Boolean);
  if (values.length) press(null, s.dataset.msg, s.dataset.pick, s.dataset.chan, s.dataset.pick, values);
});
document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { $("modal").style.display = "none"; $("pinList").style.display = "none"; } });
window.addEventListener("hashchange", fromHash);

loadWorld().then(refresh);
setInterval(async () => { refresh(); pollPending(); if (await WORLD.poll()) renderChannels(); }, 1500);
setInterval(loadWorld, 5000);
}
