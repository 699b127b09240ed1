/** Axon's version, and the Synapse release whose Admin API answers it reproduces. */
export const AXON_VERSION = '0.1.0';
export const SYNAPSE_COMPAT_VERSION = '1.94.0';
export const SERVER_HEADER = `Axon/${AXON_VERSION}`;
