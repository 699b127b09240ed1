// The event model's checks, for black-box tests that verify what the server stored.
export { checkContentHash, eventIdFor, verifyEventSignature } from '../../src/matrix/event-hashing.js';
