'use strict';
// Detection fixtures for the trigger test: what `Detection` looks like on
// DETECTION_UPDATE (camelCase properties, live objects in participants), in the order
// the events arrive. Built fresh on every call so no run can change another's input.

const { Device, IPAddress, Application, liveList } = require('./standin');

const T0 = 1700000000000; // epoch ms

function mitre(id, name) {
  return { id, name, url: `https://attack.mitre.org/${id.startsWith('TA') ? 'tactics' : 'techniques'}/${id.replace('.', '/')}/` };
}

function base(id, over) {
  return Object.assign({
    id,
    title: `Detection ${id}`,
    description: `Something happened (${id}).`,
    type: 'smb_brute_force',
    categories: ['sec.attack'],
    riskScore: 50,
    startTime: T0,
    endTime: T0 + 60000,
    updateTime: T0 + 60000,
    status: null,
    assignee: null,
    ticketId: null,
    resolution: null,
    mitreCategories: [],
    participants: [],
    properties: {},
    isCustom: false,
    isEventCreate: true,
    applianceId: 1,
  }, over);
}

function many(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    let object;
    if (i % 3 === 0) object = new Device(10000 + i, `0a1b2c3d${String(i).padStart(8, '0')}`);
    else if (i % 3 === 1) object = new IPAddress(i % 2 ? `10.0.${i >> 8}.${i & 255}` : `2001:db8::${i.toString(16)}`);
    else object = new Application(`app-${i}`);
    out.push({ id: 500000 + i, role: i === 0 ? 'offender' : 'victim', object });
  }
  return out;
}

// name, the Detection, and (optionally) the event name and expected outcome.
function fixtures() {
  const server = new Device(1234, 'f00dfeed00000001');
  server.addAddress(new IPAddress('192.0.2.10', { hostNames: ['fs01.example.com'] }));
  const attacker = new IPAddress('203.0.113.7', { external: true, hostNames: ['scanner.example.net'] });
  const workstation = new Device('4321', 'f00dfeed00000002');
  workstation.addAddress(new IPAddress('192.0.2.55'));
  workstation.addAddress(new IPAddress('2001:db8::55'));

  return [
    {
      name: 'seed-first-event',
      detection: base(1, {
        title: 'SMB/CIFS Brute Force',
        categories: ['sec.attack', 'sec.action'],
        riskScore: 85,
        ticketId: 'TK-16982',
        status: 'new',
        assignee: 'sally',
        mitreCategories: [mitre('TA0006', 'Credential Access'), mitre('T1110', 'Brute Force'),
          mitre('T1110.001', 'Password Guessing')],
        participants: [
          { id: 900001, role: 'offender', object: attacker },
          { id: 900002, role: 'victim', object: server },
        ],
        properties: { attempts: 312, protocol: 'SMB', server: server.ipaddrs[0] },
      }),
    },
    {
      name: 'null-risk-score',
      detection: base(2, { riskScore: null, categories: ['sec.caution'], status: null,
        endTime: null, participants: [{ id: 900003, role: 'offender', object: workstation }] }),
    },
    {
      name: 'custom-detection-type',
      detection: base(3, { type: 'custom.exfil_over_dns', isCustom: true, title: 'Custom: DNS exfiltration',
        categories: [], riskScore: 30, mitreCategories: undefined, properties: undefined }),
    },
    {
      name: 'no-participants',
      detection: base(4, { participants: [], status: 'acknowledged', assignee: 'jim', ticketId: 'TK-2078' }),
    },
    {
      name: 'participants-absent',
      detection: base(5, { participants: undefined, applianceId: undefined }),
    },
    {
      name: 'many-participants',
      detection: base(6, { participants: many(600), type: 'port_scan', categories: ['sec.recon'] }),
    },
    {
      name: 'live-objects',
      // The participant list itself is a live array-like, not an array.
      detection: base(7, {
        participants: liveList([
          { id: 900010, role: 'offender', object: workstation },
          { id: 900011, role: 'victim', object: attacker },
          { id: 900012, role: 'victim', object: new Application('payroll') },
          { id: 900013, role: 'victim', object: '198.51.100.9' },
        ]),
        categories: liveList(['sec.lateral']),
        properties: { device: workstation, addresses: workstation.ipaddrs, nested: { port: 445, ok: true } },
      }),
    },
    {
      name: 'closed-action-taken',
      detection: base(8, { status: 'closed', resolution: 'action_taken', ticketId: 'TK-3452', assignee: 'alex' }),
    },
    {
      name: 'large-id',
      detection: base(2 ** 40 + 7, { startTime: T0 + 0.75, updateTime: T0 + 1.5 }),
    },
    {
      // A later DETECTION_UPDATE of detection 1: same document, newer values.
      name: 'seed-later-event',
      detection: base(1, {
        title: 'SMB/CIFS Brute Force',
        categories: ['sec.attack', 'sec.action'],
        riskScore: 90,
        updateTime: T0 + 3600000,
        endTime: T0 + 3600000,
        ticketId: 'TK-16982',
        status: 'in_progress',
        assignee: 'sally',
        isEventCreate: false,
        participants: [
          { id: 900001, role: 'offender', object: attacker },
          { id: 900002, role: 'victim', object: server },
          { id: 900004, role: 'victim', object: workstation },
        ],
      }),
    },
    {
      name: 'no-usable-id',
      detection: base(undefined, {}),
      writes: 0,
    },
    {
      name: 'other-event',
      detection: base(9, {}),
      event: 'HTTP_REQUEST',
      writes: 0,
    },
  ];
}

module.exports = { fixtures, T0 };
