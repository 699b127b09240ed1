import { notFound } from '../errors.js';

export interface DestinationsPage {
  destinations: never[];
  total: number;
  next_token?: string;
}

/**
 * The federation-destinations admin API (catalogue §12), answered truthfully: Axon does not
 * federate yet (it only serves its keys), so it has contacted no server. Lists are empty with
 * Synapse's shapes, and every destination is one Synapse would call unknown.
 */
export class FederationAdminService {
  destinations(_f: { from: number; limit: number; destination?: string }): DestinationsPage {
    return { destinations: [], total: 0 };
  }

  destination(_destination: string): never {
    throw notFound('Unknown destination');
  }

  destinationRooms(destination: string): never {
    return this.destination(destination);
  }

  resetConnection(destination: string): never {
    return this.destination(destination);
  }
}
