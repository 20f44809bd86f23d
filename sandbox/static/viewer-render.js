"use strict";
// The sandbox viewer, part 2 of 3: messages, embeds, components and the bot's answers as HTML.

// ------------------------------------------------------------------ rendering pieces
function emojiText(e) {
  if (!e) return "";
  if (typeof e === "string") return e.includes(":") ? `:${e.split(":")[0]}:` : e;
  return e.id ? `:${e.name}:` : e.name || "";
}
function embedHtml(e) {
  const color = Number.isFinite(e.color) ? `#${(e.color & 0xffffff).toString(16).padStart(6, "0")}` : "#1e1f22";
  const parts = [];
  if (e.author && e.author.name) {
    const u = safeUrl(e.author.url);
    parts.push(`<div class="author">${u ? linkHtml(u, esc(e.author.name)) : esc(e.author.name)}</div>`);
  }
  if (e.title) {
    const u = safeUrl(e.url);
    parts.push(`<div class="title">${u ? linkHtml(u, inline(e.title, { noLinks: true })) : inline(e.title)}</div>`);
  }
  if (e.description) parts.push(`<div class="desc md">${markdown(e.description)}</div>`);
  const rows = [];
  let row = [];
  for (const f of e.fields || []) {
    if (!f.inline) { if (row.length) rows.push(row); rows.push([f]); row = []; continue; }
    row.push(f);
    if (row.length === 3) { rows.push(row); row = []; }
  }
  if (row.length) rows.push(row);
  rows.forEach((r) => parts.push(`<div class="frow" style="grid-template-columns:repeat(${r.length},minmax(0,1fr))">` +
    r.map((f) => `<div class="field"><div class="fname">${inline(f.name)}</div><div class="fval md">${markdown(f.value)}</div></div>`).join("") + `</div>`));
  for (const key of ["image", "thumbnail"]) {
    const u = e[key] && safeUrl(e[key].url);
    if (u) parts.push(`<div class="img">${key}: ${linkHtml(u)}</div>`);
  }
  const foot = [];
  if (e.footer && e.footer.text) foot.push(inline(e.footer.text, { noLinks: true }));
  if (e.timestamp) { const d = new Date(e.timestamp); if (!isNaN(d.getTime())) foot.push(`<span title="${esc(fullDate(d))}">${esc(calendar(d))}</span>`); }
  if (foot.length) parts.push(`<div class="foot">${foot.join("<span>•</span>")}</div>`);
  return `<div class="embed" style="border-color:${color}">${parts.join("")}</div>`;
}

function selectOptions(c) {
  const w = S.world;
  switch (c.type) {
    case 3: return (c.options || []).map((o) => [o.value, (o.emoji ? emojiText(o.emoji) + " " : "") + o.label]);
    case 5: return w.users.map((u) => [u.id, `${u.display_name || u.name} (@${u.name})`]);
    case 6: return w.roles.map((r) => [r.id, "@" + r.name]);
    case 7: return [...w.users.map((u) => [u.id, "@" + (u.display_name || u.name)]), ...w.roles.map((r) => [r.id, "@" + r.name])];
    case 8: return w.channels.filter((ch) => ch.type !== 4).map((ch) => [ch.id, "#" + ch.name]);
  }
  return [];
}
// Components (buttons, selects, and the layout ones) of a message; `messageId` is what a press names.
function componentsHtml(list, messageId, channelId) {
  const render = (c) => {
    switch (c.type) {
      case 1: return `<div class="crow">${(c.components || []).map(render).join("")}</div>`;
      case 2: {
        const label = `${c.emoji ? `<span class="emo">${esc(emojiText(c.emoji))}</span>` : ""}${c.label ? `<span>${esc(c.label)}</span>` : ""}` || esc(c.custom_id || "button");
        const url = safeUrl(c.url);
        if (c.style === 5 || url) return url ? `<a class="btn s5" href="${esc(url)}" target="_blank" rel="noopener noreferrer" title="${esc(url)}">${label} ↗</a>` : `<button class="btn s5" disabled>${label}</button>`;
        if (!c.custom_id) return `<button class="btn s${Number(c.style) || 2}" disabled>${label}</button>`;
        return `<button class="btn s${Number(c.style) || 2}" data-press="${esc(c.custom_id)}" data-msg="${esc(messageId)}" data-chan="${esc(channelId)}" data-label="${esc(c.label || emojiText(c.emoji) || c.custom_id)}"${c.disabled ? " disabled" : ""}>${label}</button>`;
      }
      case 3: case 5: case 6: case 7: case 8: {
        const multi = (c.max_values || 1) > 1;
        return `<select data-pick="${esc(c.custom_id)}" data-msg="${esc(messageId)}" data-chan="${esc(channelId)}"${multi ? ` multiple size="${Math.min(5, selectOptions(c).length)}"` : ""}${c.disabled ? " disabled" : ""} title="${esc(c.placeholder || "")}">` +
          (multi ? "" : `<option value="">${esc(c.placeholder || "Make a selection")}</option>`) +
          selectOptions(c).map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join("") + `</select>`;
      }
      case 9: return `<div class="crow" style="justify-content:space-between;flex-wrap:nowrap"><div>${(c.components || []).map(render).join("")}</div>${c.accessory ? render(c.accessory) : ""}</div>`;
      case 10: return `<div class="md">${markdown(c.content)}</div>`;
      case 14: return `<div class="sep"></div>`;
      case 17: return `<div class="container"${Number.isFinite(c.accent_color) ? ` style="border-color:#${(c.accent_color & 0xffffff).toString(16).padStart(6, "0")}"` : ""}>${(c.components || []).map(render).join("")}</div>`;
      default: return (c.components || []).map(render).join("");
    }
  };
  return (list || []).map(render).join("");
}

function reactionsHtml(m) {
  const mine = (r) => r.user_ids.includes(S.actor);
  return `<div class="reactions">` + (m.reactions || []).map((r) =>
    `<button class="react${mine(r) ? " mine" : ""}" data-emoji="${esc(r.emoji)}" data-msg="${esc(m.id)}" data-mine="${mine(r) ? 1 : ""}" ` +
    `title="${esc(`${emojiText(r.emoji)} by ${r.user_ids.map(displayName).join(", ")} — click to ${mine(r) ? "remove yours" : "add yours"}`)}">` +
    `<span class="e">${esc(emojiText(r.emoji))}</span><span class="n">${r.user_ids.length}</span></button>`).join("") + `</div>`;
}

function snippet(m) {
  if (!m) return "Original message was deleted";
  const text = m.content || (m.embeds[0] && (m.embeds[0].title || m.embeds[0].description)) || (m.attachments.length ? "Attachment" : "…");
  const one = text.split("\n")[0];
  return one.length > 140 ? one.slice(0, 140) + "…" : one;
}

function fileHtml(a) {
  const size = a.size == null ? "" : a.size < 1024 ? `${a.size} B` : `${(a.size / 1024).toFixed(1)} KB`;
  const url = safeUrl(a.url) || (typeof a.url === "string" && a.url.startsWith("/") ? a.url : null);
  if (a.text != null) return `<div class="file"><details><summary>${esc(a.filename)}</summary><pre>${esc(a.text)}</pre></details><span class="sz">${esc(size)}</span></div>`;
  return `<div class="file">${url ? `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(a.filename)}</a>` : esc(a.filename)}<span class="sz">${esc(size)}</span></div>`;
}

// One message of the channel listing.
function messageHtml(m, prev) {
  const who = displayName(m.author_id);
  const at = new Date(m.created_at);
  const whoHtml = `<b>${esc(who)}</b>`;
  const jumpTo = m.reply_to ? ` data-jump="${esc(m.reply_to)}"` : "";
  switch (m.type) {
    case 6: return `<div class="sysmsg" id="m-${esc(m.id)}"><div class="ico">${ICONS.pin}</div><div>${whoHtml} pinned <span class="lnk"${jumpTo}>a message</span> to this channel. <span class="when" title="${esc(fullDate(at))}">${esc(calendar(at))}</span></div></div>`;
    case 7: return `<div class="sysmsg" id="m-${esc(m.id)}"><div class="ico">→</div><div>${whoHtml} joined the server. <span class="when">${esc(calendar(at))}</span></div></div>`;
    case 18: return `<div class="sysmsg" id="m-${esc(m.id)}"><div class="ico">${ICONS.thread}</div><div>${whoHtml} started a thread: ${m.thread_id && S.channels[m.thread_id] ? channelChip(m.thread_id) : `<b>${esc(m.content)}</b>`}. <span class="when">${esc(calendar(at))}</span></div></div>`;
  }
  const grouped = prev && prev.author_id === m.author_id && [0].includes(prev.type) && m.type === 0 && !m.reply_to &&
    at - new Date(prev.created_at) < 7 * 60 * 1000 && sameDay(at, new Date(prev.created_at)) && !S.used.has(m.id);
  const mentioned = mentionsActor(m.content);
  const cls = ["msg", grouped ? "cont" : "", mentioned ? "mentioned" : "", m.pinned ? "pinned" : ""].filter(Boolean).join(" ");
  let context = "";
  const used = S.used.get(m.id);
  if (used) context = `<div class="context">${ICONS.slash}<b>${esc(displayName(used.actor))}</b> used <span class="mention">${esc(used.label)}</span></div>`;
  else if (m.reply_to) {
    const ref = S.byId[m.reply_to];
    context = `<div class="context">${ICONS.reply}${ref ? `<b>${esc(displayName(ref.author_id))}</b>` : ""}<span class="snip"${jumpTo}>${inline(snippet(ref), { noLinks: true })}</span></div>`;
  }
  const head = grouped ? `<div class="gutter" title="${esc(fullDate(at))}">${esc(shortTime(at))}</div>` : avatarHtml(m.author_id);
  const meta = grouped ? "" : `<div class="meta"><span class="who" title="${esc(S.users[m.author_id] ? "@" + S.users[m.author_id].name : who)}">${esc(who)}</span>` +
    (isBot(m.author_id) ? '<span class="apptag">APP</span>' : "") +
    `<span class="when" title="${esc(fullDate(at))}">${esc(calendar(at))}</span>` +
    (m.pinned ? `<span class="pinmark" title="Pinned in this channel">${ICONS.pin}Pinned</span>` : "") + `</div>`;
  let content = "";
  if (m.flags & MSG_LOADING && !m.content) content = `<div class="thinking">${esc(who)} is thinking</div>`;
  else if (m.content) content = `<div class="md">${markdown(m.content)}${m.edited_at ? `<span class="edited" title="${esc(fullDate(new Date(m.edited_at)))}">(edited)</span>` : ""}</div>`;
  const pin = grouped && m.pinned ? `<span class="pinmark">${ICONS.pin}Pinned</span>` : "";
  const thread = m.thread_id && S.channels[m.thread_id] ? `<div class="crow">${ICONS.thread} ${channelChip(m.thread_id)}</div>` : "";
  const reacted = (e) => (m.reactions || []).some((r) => r.emoji === e && r.user_ids.includes(S.actor));
  const bar = `<div class="hoverbar">${QUICK_REACTIONS.map((e) => `<button data-emoji="${esc(e)}" data-msg="${esc(m.id)}" data-mine="${reacted(e) ? 1 : ""}" title="${reacted(e) ? "Remove your" : "React with"} ${esc(e)}">${esc(e)}</button>`).join("")}` +
    `<button data-react-other="${esc(m.id)}" title="Another reaction">+</button></div>`;
  return `<div class="${cls}" id="m-${esc(m.id)}">${context}${head}<div class="body">${meta}${pin}${content}` +
    (m.flags & SUPPRESS_EMBEDS ? "" : (m.embeds || []).map(embedHtml).join("")) +
    (m.attachments || []).map(fileHtml).join("") + componentsHtml(m.components, m.id, m.channel_id || S.current) + thread +
    ((m.reactions || []).length ? reactionsHtml(m) : "") + `</div>${bar}</div>`;
}

function mentionsActor(content) {
  if (!content || !S.actor) return false;
  if (new RegExp(`<@!?${S.actor}>`).test(content) || /@(everyone|here)\b/.test(content)) return true;
  const u = S.users[S.actor];
  return !!u && S.world.roles.some((r) => u.roles.includes(r.name) && content.includes(`<@&${r.id}>`));
}

// An answer only the member who ran the command sees (not in channel listings).
function ephemeralHtml(e) {
  const r = e.response;
  const bot = S.world.bot_user_id;
  const ctx = `<div class="context">${ICONS.slash}<b>${esc(displayName(e.actor))}</b> ${e.label.startsWith("/") ? "used" : "pressed"} <span class="mention">${esc(e.label)}</span></div>`;
  let body = "";
  if (r.type === 5 && !r.content) body = `<div class="thinking">${esc(displayName(bot))} is thinking</div>`;
  else if (r.content) body = `<div class="md">${markdown(r.content)}</div>`;
  body += (r.embeds || []).map(embedHtml).join("") + componentsHtml(r.components, r.message_id || "", e.channel);
  return `<div class="msg eph" id="m-${esc(e.key)}">${ctx}${avatarHtml(bot)}<div class="body"><div class="meta"><span class="who">${esc(displayName(bot))}</span><span class="apptag">APP</span>` +
    `<span class="when" title="${esc(fullDate(e.at))}">${esc(calendar(e.at))}</span></div>${body}</div>` +
    `<div class="ephnote">${ICONS.eye} Only ${esc(displayName(e.actor))} can see this · <a data-dismiss="${esc(e.key)}">Dismiss message</a></div></div>`;
}

const KIND = { 4: "reply", 5: "thinking…", 6: "deferred update", 7: "edited the message", 8: "autocomplete", 9: "opened a form" };
function responseHtml(r) {
  const tag = `<div class="kind">${esc(KIND[r.type] || "type " + r.type)}${r.ephemeral ? " · ephemeral (only the member sees it)" : r.type === 4 ? " · in the channel" : ""}${r.source && r.source !== "callback" ? " · " + esc(r.source) : ""}</div>`;
  if (r.type === 9) return `<div class="resp">${tag}“${esc(r.title)}”</div>`;
  if (r.type === 8) return `<div class="resp">${tag}${esc((r.choices || []).map((c) => c.name).join(", "))}</div>`;
  return `<div class="resp">${tag}${r.content ? `<div class="md">${markdown(r.content)}</div>` : ""}${(r.embeds || []).map(embedHtml).join("")}</div>`;
}
function summary(responses, timedOut) {
  if (!responses.length) return timedOut ? "The bot did not answer within 10 s." : "No response.";
  const last = responses[responses.length - 1];
  if (responses.some((r) => r.type === 9)) return "The bot opened a form.";
  if (last.type === 5) return "The bot is thinking…";
  if (responses.some((r) => r.ephemeral && (r.type === 4 || r.type === 7))) return "The bot answered privately; the answer is in the channel, visible only here.";
  if (responses.some((r) => r.type === 4)) return "The bot replied in the channel.";
  if (responses.some((r) => r.type === 7)) return "The bot updated the message.";
  if (last.type === 6) return "The bot acknowledged it.";
  return "The bot answered.";
}
