/** Synapse's shared-secret registration MAC, for tests that build the request themselves. */
export { registrationMac } from '../../src/matrix/registration-mac.js';
