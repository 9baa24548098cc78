// The Node example: a room made with @aws-sdk/client-ivschat, two users (alice and bob)
// chatting through amazon-ivs-chat-messaging, and alice deleting one of her messages.
//
//   export AWS_ACCESS_KEY_ID=ivschatd-dev AWS_SECRET_ACCESS_KEY=ivschatd-dev-secret AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
//   cd examples/js && npm ci && node chat.js
//
// IVSCHAT_ENDPOINT names the server (default http://127.0.0.1:8080).
import { IvschatClient, CreateRoomCommand, CreateChatTokenCommand, DeleteRoomCommand } from '@aws-sdk/client-ivschat';
import { WebSocket } from 'ws';
// The messaging SDK uses the global WebSocket; Node 20 has none (Node 22 does).
globalThis.WebSocket ??= WebSocket;
const { ChatRoom, SendMessageRequest, DeleteMessageRequest } = await import('amazon-ivs-chat-messaging');

const endpoint = process.env.IVSCHAT_ENDPOINT ?? 'http://127.0.0.1:8080';
// Credentials and region come from the environment, as for AWS itself.
const ivschat = new IvschatClient({ endpoint });
const { arn } = await ivschat.send(new CreateRoomCommand({ name: 'demo' }));
console.log('room', arn);

// join connects one user and resolves once the room is connected: sendMessage before the
// 'connect' event fails with "Room is not connected".
function join(userId) {
  const room = new ChatRoom({
    regionOrUrl: endpoint.replace(/^http/, 'ws'),
    // Your backend mints tokens; never ship AWS credentials to a browser.
    tokenProvider: () =>
      ivschat.send(new CreateChatTokenCommand({
        roomIdentifier: arn, userId, capabilities: ['SEND_MESSAGE', 'DELETE_MESSAGE'],
      })),
  });
  room.logLevel = 'error';
  return new Promise((resolve, reject) => {
    room.addListener('connect', () => resolve(room));
    room.addListener('disconnect', (reason) => reject(new Error(`${userId} disconnected: ${reason}`)));
    room.connect();
  });
}

const alice = await join('alice');
const bob = await join('bob');

// nextOf resolves with the next event of a kind that a room receives.
const nextOf = (room, kind) => new Promise((resolve) => {
  const stop = room.addListener(kind, (e) => { stop(); resolve(e); });
});

const bobGets = nextOf(bob, 'message');
const sent = await alice.sendMessage(new SendMessageRequest('hello bob'));
const got = await bobGets;
console.log(`bob got "${got.content}" from ${got.sender.userId}`);

const aliceGets = nextOf(alice, 'message');
await bob.sendMessage(new SendMessageRequest('hi alice'));
console.log(`alice got "${(await aliceGets).content}" from bob`);

const bobSeesDelete = nextOf(bob, 'messageDelete');
await alice.deleteMessage(new DeleteMessageRequest(sent.id, 'typo'));
const deleted = await bobSeesDelete;
console.log(`bob saw message ${deleted.messageId} deleted (${deleted.reason})`);

alice.disconnect();
bob.disconnect();
await ivschat.send(new DeleteRoomCommand({ identifier: arn }));
console.log('deleted the room');
