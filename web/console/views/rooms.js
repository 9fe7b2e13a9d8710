// Live rooms of the chosen app, refreshed every 5 s; a room's user list is
// an audited read.

import { api, isAbort } from '../api.js';
import {
  h, replace, card, pageHeader, table, button, busy, badge, timeEl, fmtRelative, fmtTime, loading, emptyState,
  errorBox, alertBox, auditedNote, guard, reveal, humanize,
} from '../dom.js';

const REFRESH_MS = 5000;

/** roomRef is the path form of a room: the numeric id, or "s:" + string id. */
export function roomRef(r) {
  if (r.ref) return String(r.ref);
  if (r.str_room) return 's:' + r.str_room;
  return String(r.room);
}

export function roomLabel(r) {
  return r.str_room ? r.str_room : String(r.room);
}

export async function roomsView(ctx) {
  const { root, app } = ctx;
  const canPD = ctx.can('personal_data.read');
  const status = h('span', { class: 'live-status', id: 'rooms-status' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Connecting…');
  const refreshBtn = button('Refresh', { size: 'sm', id: 'rooms-refresh' });
  const listSlot = h('div', { id: 'rooms-list' }, loading('Loading live rooms…'));
  const usersSlot = h('div', { id: 'room-users' });

  root.append(
    pageHeader('Live rooms', `Rooms open right now in app ${ctx.appInfo ? ctx.appInfo.name + ' (' + app + ')' : app}. The list refreshes every 5 seconds.`,
      h('div', { class: 'toolbar' }, status, refreshBtn)),
    card({ title: 'Rooms', subtitle: 'Listing a room’s users is an audited read: each listing is recorded in the audit log.' }, listSlot),
    usersSlot,
  );

  let rooms = [];
  let tableEl = null;
  let selected = null;
  let errorEl = null;

  const columns = [
    {
      label: 'Room',
      render: (r) => h('span', { class: 'room-cell' }, h('span', { class: 'mono', text: roomLabel(r) }),
        r.str_room ? badge('string id', 'neutral') : null, r.scene ? badge(humanize(r.scene), 'accent') : null),
    },
    { label: 'Participants', numeric: true, render: (r) => h('span', { class: 'count-pill', text: String(r.participants ?? 0) }) },
    { label: 'Open since', render: (r) => h('span', { title: r.created_at || '' }, fmtRelative(r.created_at)) },
    {
      label: '',
      className: 'cell-actions',
      render: (r) => h('span', { class: 'row-actions' },
        h('a', { class: 'btn btn-ghost btn-sm', href: ctx.hashFor('/quality', { app, room: roomRef(r) }), text: 'Quality' }),
        button('List users', {
          size: 'sm', variant: 'secondary', class: 'room-users-btn', disabled: !canPD,
          title: canPD ? 'Audited read: recorded in the audit log' : 'Your role lacks personal_data.read',
          onClick: () => showUsers(r),
        })),
    },
  ];

  async function load() {
    try {
      const res = await api(`/v1/console/apps/${app}/rooms`, { signal: ctx.signal });
      if (!ctx.alive()) return;
      rooms = Array.isArray(res && res.rooms) ? res.rooms : [];
      if (errorEl) {
        errorEl.remove();
        errorEl = null;
      }
      replace(status, h('span', { class: 'live-dot live-dot-on', 'aria-hidden': 'true' }), `Live · updated ${fmtTime(Date.now())}`);
      if (!rooms.length) {
        tableEl = null;
        replace(listSlot, emptyState('No live rooms', 'Rooms appear here while someone is in them.'));
        return;
      }
      if (tableEl && tableEl.isConnected) tableEl.update(rooms);
      else {
        tableEl = table(columns, rooms, {
          caption: 'Live rooms',
          className: 'rooms-table',
          rowClass: (r) => (selected && roomRef(r) === selected ? 'row-selected' : null),
          onRowClick: (r) => {
            if (canPD) showUsers(r);
          },
        });
        replace(listSlot, tableEl);
      }
    } catch (err) {
      if (isAbort(err) || !ctx.alive()) return;
      replace(status, h('span', { class: 'live-dot live-dot-err', 'aria-hidden': 'true' }), 'Not updating');
      if (!tableEl) replace(listSlot, errorBox(err, 'Could not load the live rooms'));
      else if (!errorEl) {
        errorEl = errorBox(err, 'Refreshing failed; showing the last list');
        listSlot.prepend(errorEl);
      }
    }
  }

  function showUsers(r) {
    selected = roomRef(r);
    if (tableEl) tableEl.update(rooms);
    const body = h('div', { class: 'stack' }, loading('Reading the room’s users…'));
    const again = button('Read again', { size: 'sm' });
    const close = button('Close', { size: 'sm', variant: 'ghost' });
    replace(usersSlot, card({
      title: `Users in ${roomLabel(r)}`,
      subtitle: r.str_room ? 'String room id' : 'Numeric room id',
      actions: [again, close],
      id: 'room-users-card',
    }, auditedNote('This read is recorded in the audit log (your operator id, the app and the number of users; not the user ids).'), body));
    close.addEventListener('click', () => {
      selected = null;
      if (tableEl) tableEl.update(rooms);
      replace(usersSlot);
    });
    const read = () => guard(() => busy(again, async () => {
      const res = await api(`/v1/console/apps/${app}/rooms/${encodeURIComponent(roomRef(r))}/users`, { signal: ctx.signal });
      const users = Array.isArray(res && res.users) ? res.users : [];
      if (!users.length) {
        replace(body, emptyState('Nobody in the room', 'The room may have just closed.'));
        return;
      }
      replace(body, table([
        { label: 'User ID', render: (u) => h('span', { class: 'mono', text: u.user_id }) },
        { label: 'Role', render: (u) => (u.role ? badge(u.role, 'neutral') : null) },
        { label: 'Joined', render: (u) => timeEl(u.joined_at, true) },
        { label: 'Audio', render: (u) => (u.audio ? badge('On', 'ok') : badge('Off', 'neutral')) },
        { label: 'Video', render: (u) => (u.video ? badge('On', 'ok') : badge('Off', 'neutral')) },
        { label: 'Screen', render: (u) => (u.screen ? badge('Sharing', 'accent') : badge('Off', 'neutral')) },
      ], users, { caption: 'Users in the room' }),
      h('p', { class: 'field-hint', text: `${users.length} user${users.length === 1 ? '' : 's'} · read at ${fmtTime(Date.now())}` }));
    }), body);
    again.addEventListener('click', () => {
      replace(body, loading('Reading the room’s users…'));
      read();
    });
    read();
    reveal(usersSlot);
  }

  refreshBtn.addEventListener('click', () => {
    busy(refreshBtn, load).catch(() => {});
  });
  ctx.every(REFRESH_MS, load);
  if (!canPD) {
    listSlot.before(alertBox('info', null, `Your role (${ctx.role}) lacks personal_data.read: room user lists are not available.`));
  }
  await load();
}
