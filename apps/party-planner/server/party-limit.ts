/**
 * How many parties one identity (a browser profile, see `identity-cookie.ts`) may get tokens for.
 * Each token grants one party, and a party is a room in the relay: without a bound, one visitor could
 * ask for tokens to any number of parties and fill the relay with them. A party the identity already
 * has is always granted again (tokens are renewed), so only the N+1th different party is refused.
 *
 * Kept in this server's memory: each server behind a balancer counts on its own, and a restart
 * forgets (the relay's own bound on rooms a user creates per hour holds across relays and restarts).
 */
export interface PartyLimit {
  /** Whether `user` may have a token for `party`: it already has it, or has fewer than the bound. */
  admit(user: string, party: string): boolean;
}

/** Most identities remembered; past it the least recently seen tenth is forgotten (which only errs towards letting a guest in). */
const MAX_IDENTITIES = 100_000;

export function createPartyLimit(maxPerIdentity: number, maxIdentities = MAX_IDENTITIES): PartyLimit {
  // Map order is recency: an identity seen again moves to the end.
  const partiesOf = new Map<string, Set<string>>();
  return {
    admit(user, party) {
      let parties = partiesOf.get(user);
      if (parties) partiesOf.delete(user);
      else {
        if (partiesOf.size >= maxIdentities) {
          let drop = Math.ceil(maxIdentities / 10);
          for (const old of partiesOf.keys()) {
            partiesOf.delete(old);
            if (--drop === 0) break;
          }
        }
        parties = new Set();
      }
      partiesOf.set(user, parties);
      if (parties.has(party)) return true;
      if (parties.size >= maxPerIdentity) return false;
      parties.add(party);
      return true;
    },
  };
}
