"use strict";
// The sandbox viewer, part 1 of 3: its state, names, times and Discord's markup.
// Everything shown comes from the world and is escaped before it is put in the page.

const BOT_FALLBACK_NAME = "Atrium Incident Bot";
const MSG_LOADING = 128, SUPPRESS_EMBEDS = 4;
const QUICK_REACTIONS = ["✅", "👀", "👍", "🎉", "❤️"];
const ICONS = {
  pin: '<svg class="i" viewBox="0 0 24 24"><path d="M16 9V4h1a1 1 0 0 0 0-2H7a1 1 0 0 0 0 2h1v5a3 3 0 0 1-3 3v2h6v7l1 1 1-1v-7h6v-2a3 3 0 0 1-3-3z"/></svg>',
  thread: '<svg class="i" viewBox="0 0 24 24"><path d="M5 3h14a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-7l-5 4v-4H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm2 5v2h10V8H7zm0 4v2h7v-2H7z"/></svg>',
  eye: '<svg class="i" viewBox="0 0 24 24"><path d="M12 5c5 0 9 4.5 10 7-1 2.5-5 7-10 7S3 14.5 2 12c1-2.5 5-7 10-7zm0 3a4 4 0 1 0 0 8 4 4 0 0 0 0-8zm0 2a2 2 0 1 1 0 4 2 2 0 0 1 0-4z"/></svg>',
  reply: '<svg class="i" viewBox="0 0 24 24"><path d="M10 8V4l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z"/></svg>',
  slash: '<svg class="i" viewBox="0 0 24 24"><path d="M15.6 3.2a1 1 0 0 1 .6 1.3l-6 16a1 1 0 1 1-1.9-.7l6-16a1 1 0 0 1 1.3-.6z"/></svg>',
};

// ------------------------------------------------------------------ state
const S = {
  world: null, current: null, actor: null,
  users: {}, roles: {}, channels: {},
  messages: [], byId: {},
  worldSig: "", worldVersion: 0, chanSig: "", renderSig: "", scrollToEnd: false,
  eph: new Map(),        // message id (or synthetic key) -> ephemeral answer shown only here
  ephVersion: 0,
  used: new Map(),       // message id -> {actor, label}: "X used /command" for replies made here
  pending: new Map(),    // interaction id -> {seen, until, ctx}: follow-ups still possible
  commands: [],
  view: null,            // {name, route} while a world view (X, GitHub, ops, chain) is shown
  incidents: {},         // channel id -> {incident, severity, state} (GET /_sandbox/incidents)
};

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const safeUrl = (u) => typeof u === "string" && /^https?:\/\/[^\s]+$/i.test(u) ? u : null;

function displayName(id) {
  const u = S.users[id];
  if (u) return u.display_name || u.name;
  if (S.world && id === S.world.bot_user_id) return S.world.bot_name || BOT_FALLBACK_NAME;
  return "unknown-user";
}
const isBot = (id) => !!S.world && id === S.world.bot_user_id;
const PALETTE = ["#5865f2", "#3ba55c", "#faa61a", "#ed4245", "#eb459e", "#9b59b6", "#1abc9c", "#e67e22"];
function avatarHtml(id, cls) {
  const color = isBot(id) ? "#5865f2" : PALETTE[Number(BigInt.asUintN(32, BigInt(/^\d+$/.test(id || "") ? id : 0)) % BigInt(PALETTE.length))];
  const initial = (displayName(id).match(/[\p{L}\p{N}]/u) || ["?"])[0].toUpperCase();
  return `<div class="avatar ${cls || ""}" style="background:${color}">${esc(initial)}</div>`;
}

// ------------------------------------------------------------------ time
const sameDay = (a, b) => a.toDateString() === b.toDateString();
const shortTime = (d) => d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
function calendar(d) {
  const now = new Date(), y = new Date(now); y.setDate(now.getDate() - 1);
  if (sameDay(d, now)) return `Today at ${shortTime(d)}`;
  if (sameDay(d, y)) return `Yesterday at ${shortTime(d)}`;
  return `${d.toLocaleDateString([], { year: "numeric", month: "2-digit", day: "2-digit" })} ${shortTime(d)}`;
}
const fullDate = (d) => d.toLocaleString([], { dateStyle: "full", timeStyle: "medium" });
const TS_FORMATS = {
  t: { hour: "numeric", minute: "2-digit" },
  T: { hour: "numeric", minute: "2-digit", second: "2-digit" },
  d: { year: "numeric", month: "2-digit", day: "2-digit" },
  D: { dateStyle: "long" },
  f: { dateStyle: "long", timeStyle: "short" },
  F: { dateStyle: "full", timeStyle: "short" },
};
const RTF = typeof Intl !== "undefined" && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "always" }) : null;
function relative(d, now = Date.now()) {
  const s = (d.getTime() - now) / 1000, a = Math.abs(s);
  const [v, unit] = a < 45 ? [s, "second"] : a < 2700 ? [s / 60, "minute"] : a < 75600 ? [s / 3600, "hour"]
    : a < 26 * 86400 ? [s / 86400, "day"] : a < 320 * 86400 ? [s / 2592000, "month"] : [s / 31536000, "year"];
  const n = Math.round(v) || 0;
  if (RTF) return RTF.format(n, unit);
  return n >= 0 ? `in ${n} ${unit}s` : `${-n} ${unit}s ago`;
}
function tsText(seconds, style) {
  const d = new Date(seconds * 1000);
  if (isNaN(d.getTime())) return "Invalid Date";
  return style === "R" ? relative(d) : d.toLocaleString([], TS_FORMATS[style] || TS_FORMATS.f);
}
function tsHtml(seconds, style) {
  const d = new Date(seconds * 1000);
  const title = isNaN(d.getTime()) ? "" : fullDate(d);
  return `<span class="ts" data-ts="${seconds}" data-style="${style}" title="${esc(title)}">${esc(tsText(seconds, style))}</span>`;
}

// ------------------------------------------------------------------ Discord markup
function userChip(id) {
  const u = S.users[id];
  const me = id === S.actor ? " me" : "";
  const title = u ? `${u.display_name || u.name} (@${u.name})` : displayName(id);
  return `<span class="mention${me}" title="${esc(title)}">@${esc(displayName(id))}</span>`;
}
function roleChip(id) {
  if (S.world && id === S.world.guild_id) return `<span class="mention">@everyone</span>`;
  const r = S.roles[id];
  const mine = r && S.users[S.actor] && (S.users[S.actor].roles || []).includes(r.name) ? " me" : "";
  return `<span class="mention${mine}">@${esc(r ? r.name : "deleted-role")}</span>`;
}
function channelChip(id, messageId) {
  const c = S.channels[id];
  if (!c) return `<span class="mention">#unknown</span>`;
  const jump = messageId ? ` data-jump="${esc(messageId)}"` : "";
  return `<span class="mention" data-channel="${esc(id)}"${jump} title="Open #${esc(c.name)}">#${esc(c.name)}${messageId ? " › message" : ""}</span>`;
}
const DISCORD_LINK = /^https?:\/\/(?:(?:ptb|canary)\.)?discord(?:app)?\.com\/channels\/(\d+|@me)\/(\d+)(?:\/(\d+))?\/?$/i;
function linkHtml(url, innerHtml) {
  const m = DISCORD_LINK.exec(url);
  if (m && S.channels[m[2]]) {
    if (innerHtml == null) return channelChip(m[2], m[3]);
    return `<a href="#${esc(m[2])}" data-channel="${esc(m[2])}"${m[3] ? ` data-jump="${esc(m[3])}"` : ""} title="${esc(url)}">${innerHtml}</a>`;
  }
  const view = typeof viewHash === "function" ? viewHash(url) : null;  // a page of this world: its view
  if (view) return `<a href="#${esc(view)}" title="${esc(url)}">${innerHtml ?? esc(url)}</a>`;
  return `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer" title="${esc(url)}">${innerHtml ?? esc(url)}</a>`;
}
const WORDCHAR = /[\p{L}\p{N}_]/u;
// Inline rules, tried in order at each position (sticky regexes). A handler may return null to decline.
const INLINE_RULES = [
  [/\\([^\sA-Za-z0-9])/y, (m) => esc(m[1])],
  [/(`+)([\s\S]*?[^`])\1(?!`)/y, (m) => `<code>${esc(m[2].length > 2 && /^ .* $/s.test(m[2]) ? m[2].slice(1, -1) : m[2])}</code>`],
  [/<@!?(\d{1,20})>/y, (m) => userChip(m[1])],
  [/<@&(\d{1,20})>/y, (m) => roleChip(m[1])],
  [/<#(\d{1,20})>/y, (m) => channelChip(m[1])],
  [/<t:(-?\d{1,13})(?::([tTdDfFR]))?>/y, (m) => tsHtml(Number(m[1]), m[2] || "f")],
  [/<(a?):([\w~]{1,32}):(\d{1,20})>/y, (m) => `<span class="cemoji" title=":${esc(m[2])}:">:${esc(m[2])}:</span>`],
  [/<\/([\p{L}\p{N}_-]{1,32}(?: [\p{L}\p{N}_-]{1,32}){0,2}):(\d{1,20})>/uy, (m) => `<span class="mention" title="slash command">/${esc(m[1])}</span>`],
  [/\[([^\[\]\n]+)\]\(\s*<?(https?:\/\/[^\s<>()]+(?:\([^\s<>()]*\)[^\s<>()]*)*)>?(?:\s+"[^"\n]*")?\s*\)/y,
    (m, o) => o.noLinks ? null : linkHtml(m[2], inline(m[1], { ...o, noLinks: true }))],
  [/<(https?:\/\/[^\s<>]+)>/y, (m, o) => o.noLinks ? null : linkHtml(m[1])],
  [/https?:\/\/[^\s<]*[^\s<.,:;"'()\[\]!?*_~|>]/y, (m, o, prev) => o.noLinks || WORDCHAR.test(prev) ? null : linkHtml(m[0])],
  [/@(everyone|here)(?![\p{L}\p{N}_])/uy, (m) => `<span class="mention">@${m[1]}</span>`],
  [/\*\*([\s\S]+?)\*\*(?!\*)/y, (m, o) => `<strong>${inline(m[1], o)}</strong>`],
  [/__([\s\S]+?)__(?!_)/y, (m, o) => `<u>${inline(m[1], o)}</u>`],
  [/\*(?![\s*])([\s\S]*?[^\s\\])\*(?!\*)/y, (m, o) => `<em>${inline(m[1], o)}</em>`],
  [/_([^_\n]*?[^_\s\\])_(?![\p{L}\p{N}_])/uy, (m, o, prev) => WORDCHAR.test(prev) ? null : `<em>${inline(m[1], o)}</em>`],
  [/~~([\s\S]+?)~~/y, (m, o) => `<s>${inline(m[1], o)}</s>`],
  [/\|\|([\s\S]+?)\|\|/y, (m, o) => `<span class="spoiler" title="Spoiler: click to reveal">${inline(m[1], o)}</span>`],
];
const INLINE_START = new Set("\\`<[h@*_~|");
function inline(text, o = {}) {
  let out = "", buf = "", i = 0;
  text = String(text ?? "");
  scan: while (i < text.length) {
    if (INLINE_START.has(text[i])) {
      for (const [re, fn] of INLINE_RULES) {
        re.lastIndex = i;
        const m = re.exec(text);
        if (!m || !m[0].length) continue;
        const html = fn(m, o, i ? text[i - 1] : "");
        if (html == null) continue;
        out += esc(buf) + html;
        buf = "";
        i += m[0].length;
        continue scan;
      }
    }
    buf += text[i++];
  }
  return out + esc(buf);
}

const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)]) +(.*)$/;
function listHtml(items, o) {
  return items.map(({ indent, marker, text }) => {
    const depth = Math.min(4, Math.floor(indent / 2));
    let mk = /^\d/.test(marker) ? esc(marker.replace(")", ".")) : depth % 2 ? "◦" : "•";
    let body = text, task = "";
    const t = /^\[([ xX])\]\s+([\s\S]*)$/.exec(text);
    if (t) { task = `<span class="task${t[1] === " " ? "" : " done"}" title="${t[1] === " " ? "to do" : "done"}"></span>`; body = t[2]; }
    return `<div class="li" style="--d:${depth}"><span class="mk">${mk}</span><div class="li-body">${task}${inline(body, o)}</div></div>`;
  }).join("");
}
function linesHtml(text, o) {
  const ls = text.split("\n");
  let out = "", para = [];
  const flush = () => { if (para.length) out += `<div class="p">${para.map((l) => inline(l, o)).join("\n")}</div>`; para = []; };
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    let m;
    if (!o.inQuote && (m = /^>>> ?([\s\S]*)$/.exec(l))) {
      flush();
      out += `<blockquote>${linesHtml([m[1], ...ls.slice(i + 1)].join("\n"), { ...o, inQuote: true })}</blockquote>`;
      return out;
    }
    if (!o.inQuote && (l === ">" || l.startsWith("> "))) {
      flush();
      const quoted = [];
      while (i < ls.length && (ls[i] === ">" || ls[i].startsWith("> "))) quoted.push(ls[i++].slice(2));
      i--;
      out += `<blockquote>${linesHtml(quoted.join("\n"), { ...o, inQuote: true })}</blockquote>`;
      continue;
    }
    if ((m = /^(#{1,3}) +(\S.*)$/.exec(l))) { flush(); out += `<div class="h${m[1].length}">${inline(m[2], o)}</div>`; continue; }
    if ((m = /^-# +(\S.*)$/.exec(l))) { flush(); out += `<div class="sub">${inline(m[1], o)}</div>`; continue; }
    if (LIST_ITEM.test(l)) {
      flush();
      const items = [];
      while (i < ls.length && (m = LIST_ITEM.exec(ls[i]))) { items.push({ indent: m[1].length, marker: m[2], text: m[3] }); i++; }
      i--;
      out += listHtml(items, o);
      continue;
    }
    para.push(l);
  }
  flush();
  return out;
}
// Discord's Markdown, minus what it does not have: the result is always built from escaped text.
function markdown(text, o = {}) {
  text = String(text ?? "");
  const re = /```(?:([\w+#.-]{1,32})\n)?([\s\S]*?)```/g;
  let out = "", last = 0, m;
  const plain = (s) => { if (s) out += linesHtml(s, o); };
  while ((m = re.exec(text))) {
    plain(text.slice(last, m.index).replace(/\n$/, ""));
    const code = m[2].replace(/^\n/, "").replace(/\n$/, "");
    out += `<pre${m[1] ? ` data-lang="${esc(m[1])}"` : ""}><code>${esc(code)}</code></pre>`;
    last = re.lastIndex;
    if (text[last] === "\n") last++;
  }
  plain(text.slice(last));
  return out;
}
