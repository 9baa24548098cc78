// Control-plane round trip through the official @aws-sdk/client-ivschat,
// against a fresh ivschatd. Wire reference: shared/spec/ivschat.md §1, §2.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  CreateChatTokenCommand,
  CreateLoggingConfigurationCommand,
  CreateRoomCommand,
  DeleteLoggingConfigurationCommand,
  DeleteRoomCommand,
  GetLoggingConfigurationCommand,
  GetRoomCommand,
  ListLoggingConfigurationsCommand,
  ListRoomsCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateLoggingConfigurationCommand,
  UpdateRoomCommand,
} from '@aws-sdk/client-ivschat';

import {
  LOGGING_CONFIGURATION_ARN_RE,
  ROOM_ARN_RE,
  DEV_ACCESS_KEY_ID,
  formatExchanges,
  loggingConfigurationArn,
  makeIvschatClient,
  roomArn,
  startServer,
} from './lib/server.js';

const TEST_TIMEOUT_MS = 60_000;
// RFC 7230 token characters: what a WebSocket subprotocol value may contain.
const SUBPROTOCOL_TOKEN_RE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const LOGGING_STATES = ['CREATING', 'CREATE_FAILED', 'DELETING', 'DELETE_FAILED', 'UPDATING', 'UPDATE_FAILED', 'ACTIVE'];

let server;
let client;

/**
 * it() whose failures carry the last HTTP exchanges of `client`, so a server
 * bug can be reported with the exact request and response.
 */
function check(name, fn, clientOf = () => client) {
  it(name, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const c = clientOf();
      const transcript = c ? formatExchanges(c, 3) : '(no client)';
      if (err && typeof err === 'object') {
        try {
          err.message = `${err.message}\n\nLast HTTP exchanges:\n${transcript}`;
        } catch {
          // read-only message: leave it
        }
      }
      throw err;
    }
  });
}

/** Asserts the common $metadata of a successful call. */
function assertOk(out, status = 200) {
  assert.equal(out.$metadata.httpStatusCode, status, 'HTTP status');
  assert.equal(typeof out.$metadata.requestId, 'string', '$metadata.requestId (x-amzn-RequestId) must be set');
  assert.ok(out.$metadata.requestId.length > 0, '$metadata.requestId must not be empty');
}

/** Runs `promise`, expects it to reject with an SDK service error, returns the error. */
async function expectServiceError(promise, { name, status }) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${name} (${status}) but the call succeeded`);
  assert.ok(err.$metadata, `expected a service error, got ${err && err.stack}`);
  assert.equal(err.name, name, `error name (x-amzn-ErrorType); message: ${err.message}`);
  assert.equal(err.$metadata.httpStatusCode, status, 'HTTP status');
  assert.equal(err.$fault, status >= 500 ? 'server' : 'client', '$fault');
  assert.equal(typeof err.$metadata.requestId, 'string', 'error $metadata.requestId must be set');
  assert.ok(err.$metadata.requestId.length > 0, 'error $metadata.requestId must not be empty');
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, 'error message must not be empty');
  return err;
}

function assertTime(value, what) {
  assert.ok(value instanceof Date, `${what} must be a timestamp (got ${typeof value}: ${value})`);
  assert.ok(!Number.isNaN(value.getTime()), `${what} must be a valid date`);
  // Generous window: the server runs on this machine.
  assert.ok(Math.abs(value.getTime() - Date.now()) < 10 * 60_000, `${what} ${value.toISOString()} must be about now`);
}

function assertRoomArn(arn, id) {
  const m = ROOM_ARN_RE.exec(arn);
  assert.ok(m, `room arn ${arn} must match ${ROOM_ARN_RE}`);
  if (id !== undefined) assert.equal(m[1], id, 'room id must be the last ARN segment');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function uniqueName(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

async function createRoom(input = {}) {
  const out = await client.send(new CreateRoomCommand(input));
  assertOk(out);
  return out;
}

async function listAllRooms(input = {}) {
  const rooms = [];
  let nextToken;
  for (let page = 0; page < 100; page++) {
    const out = await client.send(new ListRoomsCommand({ ...input, nextToken }));
    assertOk(out);
    assert.ok(Array.isArray(out.rooms), 'ListRooms.rooms must always be present');
    rooms.push(...out.rooms);
    nextToken = out.nextToken;
    if (!nextToken) return rooms;
  }
  assert.fail('ListRooms did not finish paging within 100 pages');
}

before(async () => {
  server = await startServer();
  client = makeIvschatClient(server);
});

after(async () => {
  client?.destroy();
  if (server) {
    const { code, signal } = await server.stop();
    // A clean SIGTERM shutdown exits 0 (or by the signal itself).
    assert.ok(code === 0 || signal === 'SIGTERM', `ivschatd exited with code ${code} signal ${signal} on SIGTERM`);
  }
});

describe('rooms', () => {
  check('CreateRoom with no input applies the documented defaults', async () => {
    const out = await createRoom();
    assertRoomArn(out.arn, out.id);
    assert.match(out.id, /^[A-Za-z0-9]{12}$/);
    assert.equal(out.maximumMessageRatePerSecond, 10, 'default maximumMessageRatePerSecond');
    assert.equal(out.maximumMessageLength, 500, 'default maximumMessageLength');
    assertTime(out.createTime, 'createTime');
    assertTime(out.updateTime, 'updateTime');
    assert.deepEqual(out.tags ?? {}, {}, 'tags');
    assert.deepEqual(out.loggingConfigurationIdentifiers ?? [], [], 'loggingConfigurationIdentifiers');
    if (out.name !== undefined) assert.equal(out.name, '', 'name when not given');
  });

  check('CreateRoom echoes what it was given; GetRoom returns the same room', async () => {
    const name = uniqueName('room');
    const created = await createRoom({
      name,
      maximumMessageRatePerSecond: 100,
      maximumMessageLength: 1,
      tags: { team: 'e2e', 'with space': 'v a l' },
    });
    assertRoomArn(created.arn, created.id);
    assert.equal(created.name, name);
    assert.equal(created.maximumMessageRatePerSecond, 100);
    assert.equal(created.maximumMessageLength, 1);
    assert.deepEqual(created.tags, { team: 'e2e', 'with space': 'v a l' });

    const got = await client.send(new GetRoomCommand({ identifier: created.arn }));
    assertOk(got);
    for (const key of ['arn', 'id', 'name', 'maximumMessageRatePerSecond', 'maximumMessageLength', 'tags']) {
      assert.deepEqual(got[key], created[key], `GetRoom.${key}`);
    }
    assert.equal(got.createTime.getTime(), created.createTime.getTime(), 'GetRoom.createTime');
    assert.equal(got.updateTime.getTime(), created.updateTime.getTime(), 'GetRoom.updateTime');
  });

  check('ListRooms returns summaries, filters by name, pages with maxResults', async () => {
    const name = uniqueName('listed');
    const a = await createRoom({ name, tags: { k: 'v' } });
    await sleep(20);
    const b = await createRoom({ name });
    const other = await createRoom({ name: uniqueName('other') });

    const all = await listAllRooms();
    const ids = all.map((r) => r.id);
    for (const r of [a, b, other]) assert.ok(ids.includes(r.id), `ListRooms must include ${r.arn}`);

    const summary = all.find((r) => r.id === a.id);
    assert.equal(summary.arn, a.arn);
    assert.equal(summary.name, name);
    assert.deepEqual(summary.tags, { k: 'v' });
    assertTime(summary.createTime, 'summary.createTime');
    assertTime(summary.updateTime, 'summary.updateTime');
    assert.equal(summary.maximumMessageLength, undefined, 'RoomSummary has no maximumMessageLength');
    assert.equal(summary.maximumMessageRatePerSecond, undefined, 'RoomSummary has no maximumMessageRatePerSecond');

    // Sorted by updateTime, newest first.
    for (let i = 1; i < all.length; i++) {
      assert.ok(
        all[i - 1].updateTime.getTime() >= all[i].updateTime.getTime(),
        `ListRooms must be sorted by updateTime descending (item ${i - 1} ${all[i - 1].updateTime.toISOString()} before ${all[i].updateTime.toISOString()})`,
      );
    }

    // Exact-name filter.
    const byName = await listAllRooms({ name });
    assert.deepEqual(byName.map((r) => r.id).sort(), [a.id, b.id].sort(), 'ListRooms name filter');
    assert.equal(byName[0].id, b.id, 'newest (b) first under the name filter');

    // Paging one by one gives the same rooms, each once.
    const paged = await listAllRooms({ name, maxResults: 1 });
    assert.deepEqual(paged.map((r) => r.id), byName.map((r) => r.id), 'maxResults=1 paging');

    const first = await client.send(new ListRoomsCommand({ name, maxResults: 1 }));
    assertOk(first);
    assert.equal(first.rooms.length, 1);
    assert.equal(typeof first.nextToken, 'string', 'nextToken when more pages remain');
  });

  check('UpdateRoom changes only what it is given and moves updateTime', async () => {
    const created = await createRoom({ name: uniqueName('upd'), maximumMessageRatePerSecond: 7, tags: { keep: 'me' } });
    await sleep(20);
    const newName = uniqueName('renamed');
    const updated = await client.send(
      new UpdateRoomCommand({ identifier: created.arn, name: newName, maximumMessageLength: 42 }),
    );
    assertOk(updated);
    assert.equal(updated.arn, created.arn);
    assert.equal(updated.id, created.id);
    assert.equal(updated.name, newName);
    assert.equal(updated.maximumMessageLength, 42);
    assert.equal(updated.maximumMessageRatePerSecond, 7, 'absent member stays unchanged');
    assert.deepEqual(updated.tags, { keep: 'me' }, 'tags survive UpdateRoom');
    assert.equal(updated.createTime.getTime(), created.createTime.getTime(), 'createTime unchanged');
    assert.ok(updated.updateTime.getTime() > created.updateTime.getTime(), 'updateTime must move forward');

    const got = await client.send(new GetRoomCommand({ identifier: created.arn }));
    assertOk(got);
    assert.equal(got.name, newName);
    assert.equal(got.maximumMessageLength, 42);
    assert.equal(got.maximumMessageRatePerSecond, 7);
  });

  check('DeleteRoom answers 204; the room is then gone', async () => {
    const created = await createRoom();
    const del = await client.send(new DeleteRoomCommand({ identifier: created.arn }));
    assertOk(del, 204);

    const err = await expectServiceError(client.send(new GetRoomCommand({ identifier: created.arn })), {
      name: 'ResourceNotFoundException',
      status: 404,
    });
    assert.equal(err.resourceId, created.id, 'resourceId of the missing room');

    await expectServiceError(client.send(new DeleteRoomCommand({ identifier: created.arn })), {
      name: 'ResourceNotFoundException',
      status: 404,
    });
    const all = await listAllRooms();
    assert.ok(!all.some((r) => r.id === created.id), 'deleted room must not be listed');
  });
});

describe('tags', () => {
  check('TagResource / ListTagsForResource / UntagResource on a room ARN', async () => {
    const room = await createRoom({ tags: { initial: '1' } });

    const listed0 = await client.send(new ListTagsForResourceCommand({ resourceArn: room.arn }));
    assertOk(listed0);
    assert.deepEqual(listed0.tags, { initial: '1' });

    const tagged = await client.send(
      new TagResourceCommand({ resourceArn: room.arn, tags: { a: 'x', 'b c': 'y z', initial: 'overwritten', empty: '' } }),
    );
    assertOk(tagged);

    const listed1 = await client.send(new ListTagsForResourceCommand({ resourceArn: room.arn }));
    assertOk(listed1);
    assert.deepEqual(listed1.tags, { initial: 'overwritten', a: 'x', 'b c': 'y z', empty: '' });

    const untagged = await client.send(new UntagResourceCommand({ resourceArn: room.arn, tagKeys: ['b c', 'initial'] }));
    assertOk(untagged);

    const listed2 = await client.send(new ListTagsForResourceCommand({ resourceArn: room.arn }));
    assertOk(listed2);
    assert.deepEqual(listed2.tags, { a: 'x', empty: '' });

    const got = await client.send(new GetRoomCommand({ identifier: room.arn }));
    assert.deepEqual(got.tags, { a: 'x', empty: '' }, 'GetRoom shows the same tags');

    // Untagging a key that is not there is fine (idempotent).
    assertOk(await client.send(new UntagResourceCommand({ resourceArn: room.arn, tagKeys: ['never-set'] })));
  });

  check('ListTagsForResource on a missing room is ResourceNotFoundException', async () => {
    await expectServiceError(client.send(new ListTagsForResourceCommand({ resourceArn: roomArn('Missing00000') })), {
      name: 'ResourceNotFoundException',
      status: 404,
    });
  });
});

describe('logging configurations', () => {
  check('Create / Get / List / Update / Delete with an S3 destination', async () => {
    const name = uniqueName('logs');
    const created = await client.send(
      new CreateLoggingConfigurationCommand({
        name,
        destinationConfiguration: { s3: { bucketName: 'ivschatd-e2e-bucket' } },
        tags: { owner: 'e2e' },
      }),
    );
    assertOk(created);
    const m = LOGGING_CONFIGURATION_ARN_RE.exec(created.arn);
    assert.ok(m, `logging configuration arn ${created.arn} must match ${LOGGING_CONFIGURATION_ARN_RE}`);
    assert.equal(created.id, m[1], 'id is the last ARN segment');
    assert.equal(created.name, name);
    assert.deepEqual(created.destinationConfiguration, { s3: { bucketName: 'ivschatd-e2e-bucket' } });
    assert.equal(created.state, 'ACTIVE');
    assert.deepEqual(created.tags, { owner: 'e2e' });
    assertTime(created.createTime, 'createTime');
    assertTime(created.updateTime, 'updateTime');

    const got = await client.send(new GetLoggingConfigurationCommand({ identifier: created.arn }));
    assertOk(got);
    assert.equal(got.arn, created.arn);
    assert.equal(got.id, created.id);
    assert.equal(got.name, name);
    assert.deepEqual(got.destinationConfiguration, { s3: { bucketName: 'ivschatd-e2e-bucket' } });
    assert.ok(LOGGING_STATES.includes(got.state), `state ${got.state} must be a LoggingConfigurationState`);
    assert.deepEqual(got.tags, { owner: 'e2e' });

    const listed = await client.send(new ListLoggingConfigurationsCommand({}));
    assertOk(listed);
    assert.ok(Array.isArray(listed.loggingConfigurations), 'loggingConfigurations must always be present');
    const summary = listed.loggingConfigurations.find((c) => c.arn === created.arn);
    assert.ok(summary, 'ListLoggingConfigurations must include the new configuration');
    assert.equal(summary.id, created.id);
    assert.equal(summary.name, name);
    assert.deepEqual(summary.destinationConfiguration, { s3: { bucketName: 'ivschatd-e2e-bucket' } });
    assert.ok(LOGGING_STATES.includes(summary.state));

    await sleep(20);
    const newName = uniqueName('logs2');
    const updated = await client.send(
      new UpdateLoggingConfigurationCommand({
        identifier: created.arn,
        name: newName,
        destinationConfiguration: { cloudWatchLogs: { logGroupName: '/ivschatd/e2e' } },
      }),
    );
    assertOk(updated);
    assert.equal(updated.arn, created.arn);
    assert.equal(updated.name, newName);
    assert.deepEqual(updated.destinationConfiguration, { cloudWatchLogs: { logGroupName: '/ivschatd/e2e' } });
    assert.equal(updated.state, 'ACTIVE');
    assert.deepEqual(updated.tags, { owner: 'e2e' });
    assert.ok(updated.updateTime.getTime() > created.updateTime.getTime(), 'updateTime must move forward');

    // Name only: destination unchanged.
    const renamed = await client.send(new UpdateLoggingConfigurationCommand({ identifier: created.arn, name }));
    assertOk(renamed);
    assert.equal(renamed.name, name);
    assert.deepEqual(renamed.destinationConfiguration, { cloudWatchLogs: { logGroupName: '/ivschatd/e2e' } });

    const del = await client.send(new DeleteLoggingConfigurationCommand({ identifier: created.arn }));
    assertOk(del, 204);

    await expectServiceError(client.send(new GetLoggingConfigurationCommand({ identifier: created.arn })), {
      name: 'ResourceNotFoundException',
      status: 404,
    });
    const after = await client.send(new ListLoggingConfigurationsCommand({}));
    assert.ok(!after.loggingConfigurations.some((c) => c.arn === created.arn), 'deleted configuration must not be listed');
  });

  check('rooms reference logging configurations; ListRooms filters by them; [] clears', async () => {
    const cfg = await client.send(
      new CreateLoggingConfigurationCommand({ destinationConfiguration: { firehose: { deliveryStreamName: 'e2e-stream' } } }),
    );
    assertOk(cfg);
    assert.deepEqual(cfg.destinationConfiguration, { firehose: { deliveryStreamName: 'e2e-stream' } });

    const room = await createRoom({ loggingConfigurationIdentifiers: [cfg.arn] });
    assert.deepEqual(room.loggingConfigurationIdentifiers, [cfg.arn]);
    await createRoom(); // one without, which the filter must leave out

    const filtered = await listAllRooms({ loggingConfigurationIdentifier: cfg.arn });
    assert.deepEqual(filtered.map((r) => r.id), [room.id], 'ListRooms loggingConfigurationIdentifier filter');
    assert.deepEqual(filtered[0].loggingConfigurationIdentifiers, [cfg.arn]);

    const cleared = await client.send(new UpdateRoomCommand({ identifier: room.arn, loggingConfigurationIdentifiers: [] }));
    assertOk(cleared);
    assert.deepEqual(cleared.loggingConfigurationIdentifiers ?? [], [], 'loggingConfigurationIdentifiers [] clears the list');
    assert.deepEqual(await listAllRooms({ loggingConfigurationIdentifier: cfg.arn }), []);

    assertOk(await client.send(new DeleteLoggingConfigurationCommand({ identifier: cfg.arn })), 204);
  });
});

describe('chat tokens', () => {
  check('CreateChatToken returns a subprotocol-safe token and its expiry times', async () => {
    const room = await createRoom();
    const before = Date.now();
    const out = await client.send(
      new CreateChatTokenCommand({
        roomIdentifier: room.arn,
        userId: 'user-1 with spaces ✓',
        capabilities: ['SEND_MESSAGE', 'DELETE_MESSAGE', 'DISCONNECT_USER'],
        sessionDurationInMinutes: 30,
        attributes: { displayName: 'Ada' },
      }),
    );
    assertOk(out);
    assert.equal(typeof out.token, 'string');
    assert.ok(out.token.length > 0, 'token must not be empty');
    assert.match(out.token, SUBPROTOCOL_TOKEN_RE, 'token must be usable as a WebSocket subprotocol');
    assert.ok(out.tokenExpirationTime instanceof Date && out.tokenExpirationTime.getTime() > before, 'tokenExpirationTime in the future');
    assert.ok(out.sessionExpirationTime instanceof Date, 'sessionExpirationTime');
    const sessionMinutes = (out.sessionExpirationTime.getTime() - before) / 60_000;
    assert.ok(sessionMinutes > 29 && sessionMinutes < 31, `sessionExpirationTime ≈ now + 30 min (got ${sessionMinutes.toFixed(2)} min)`);

    const defaults = await client.send(new CreateChatTokenCommand({ roomIdentifier: room.arn, userId: 'viewer' }));
    assertOk(defaults);
    assert.match(defaults.token, SUBPROTOCOL_TOKEN_RE);
    assert.notEqual(defaults.token, out.token, 'every token is new');
    const defaultMinutes = (defaults.sessionExpirationTime.getTime() - Date.now()) / 60_000;
    assert.ok(defaultMinutes > 59 && defaultMinutes < 61, `default session is 60 min (got ${defaultMinutes.toFixed(2)} min)`);
  });

  check('CreateChatToken for a missing room is ResourceNotFoundException', async () => {
    const err = await expectServiceError(
      client.send(new CreateChatTokenCommand({ roomIdentifier: roomArn('Missing00001'), userId: 'u' })),
      { name: 'ResourceNotFoundException', status: 404 },
    );
    assert.equal(err.resourceId, 'Missing00001');
  });
});

describe('errors', () => {
  check('ValidationException 400: maximumMessageLength 501', async () => {
    const err = await expectServiceError(client.send(new CreateRoomCommand({ maximumMessageLength: 501 })), {
      name: 'ValidationException',
      status: 400,
    });
    assert.equal(err.reason, 'FIELD_VALIDATION_FAILED', 'ValidationException.reason');
    assert.ok(Array.isArray(err.fieldList) && err.fieldList.length > 0, 'ValidationException.fieldList must list the field');
    const field = err.fieldList.find((f) => typeof f.name === 'string' && f.name.includes('maximumMessageLength'));
    assert.ok(field, `fieldList must name maximumMessageLength, got ${JSON.stringify(err.fieldList)}`);
    assert.equal(typeof field.message, 'string');
    assert.ok(field.message.length > 0, 'fieldList[].message must not be empty');
  });

  check('ValidationException 400: other out-of-model inputs', async () => {
    const cases = [
      ['rate 0', new CreateRoomCommand({ maximumMessageRatePerSecond: 0 })],
      ['rate 101', new CreateRoomCommand({ maximumMessageRatePerSecond: 101 })],
      ['length 0', new CreateRoomCommand({ maximumMessageLength: 0 })],
      ['bad name', new CreateRoomCommand({ name: 'not allowed!' })],
      ['bare id as identifier', new GetRoomCommand({ identifier: 'AbCdEf123456' })],
      ['session 181 min', new CreateChatTokenCommand({ roomIdentifier: roomArn(), userId: 'u', sessionDurationInMinutes: 181 })],
      ['bucket name with capitals', new CreateLoggingConfigurationCommand({ destinationConfiguration: { s3: { bucketName: 'Bad_Bucket' } } })],
      ['maxResults 51', new ListRoomsCommand({ maxResults: 51 })],
    ];
    for (const [label, command] of cases) {
      const err = await expectServiceError(client.send(command), { name: 'ValidationException', status: 400 }).catch((e) => {
        e.message = `[${label}] ${e.message}`;
        throw e;
      });
      assert.ok(['FIELD_VALIDATION_FAILED', 'OTHER'].includes(err.reason), `[${label}] reason ${err.reason}`);
    }
  });

  check('ResourceNotFoundException 404: GetRoom on a missing ARN', async () => {
    const err = await expectServiceError(client.send(new GetRoomCommand({ identifier: roomArn('AbCdEf123456') })), {
      name: 'ResourceNotFoundException',
      status: 404,
    });
    assert.equal(err.resourceId, 'AbCdEf123456', 'resourceId');
    assert.equal(err.resourceType, 'ROOM', 'resourceType');

    await expectServiceError(
      client.send(new GetLoggingConfigurationCommand({ identifier: loggingConfigurationArn('AbCdEf123456') })),
      { name: 'ResourceNotFoundException', status: 404 },
    );
  });

  let badClient;
  check(
    '403 with a wrong secret (InvalidSignatureException) and an unknown key (UnrecognizedClientException)',
    async () => {
      badClient = makeIvschatClient(server, {
        credentials: { accessKeyId: DEV_ACCESS_KEY_ID, secretAccessKey: 'not-the-secret' },
      });
      await expectServiceError(badClient.send(new ListRoomsCommand({})), { name: 'InvalidSignatureException', status: 403 });
      await expectServiceError(badClient.send(new GetRoomCommand({ identifier: roomArn() })), {
        name: 'InvalidSignatureException',
        status: 403,
      });
      badClient.destroy();

      badClient = makeIvschatClient(server, {
        credentials: { accessKeyId: 'AKIDUNKNOWNKEY000000', secretAccessKey: 'whatever' },
      });
      await expectServiceError(badClient.send(new ListRoomsCommand({})), { name: 'UnrecognizedClientException', status: 403 });
      badClient.destroy();

      // And the right credentials still work.
      assertOk(await client.send(new ListRoomsCommand({})));
    },
    () => badClient,
  );
});

describe('service quota', () => {
  let quotaServer;
  let quotaClient;

  before(async () => {
    quotaServer = await startServer({ args: ['--max-logging-configurations', '1'] });
    quotaClient = makeIvschatClient(quotaServer);
  });

  after(async () => {
    quotaClient?.destroy();
    await quotaServer?.stop();
  });

  check(
    'ServiceQuotaExceededException 402 with --max-logging-configurations 1',
    async () => {
      const input = { destinationConfiguration: { s3: { bucketName: 'quota-bucket' } } };
      const first = await quotaClient.send(new CreateLoggingConfigurationCommand(input));
      assertOk(first);

      const err = await expectServiceError(quotaClient.send(new CreateLoggingConfigurationCommand(input)), {
        name: 'ServiceQuotaExceededException',
        status: 402,
      });
      assert.equal(err.limit, 1, 'ServiceQuotaExceededException.limit');
      assert.equal(typeof err.resourceType, 'string', 'resourceType must be set');

      const listed = await quotaClient.send(new ListLoggingConfigurationsCommand({}));
      assert.equal(listed.loggingConfigurations.length, 1, 'the refused configuration was not created');

      // Freeing the slot makes room for another.
      assertOk(await quotaClient.send(new DeleteLoggingConfigurationCommand({ identifier: first.arn })), 204);
      assertOk(await quotaClient.send(new CreateLoggingConfigurationCommand(input)));
    },
    () => quotaClient,
  );
});
