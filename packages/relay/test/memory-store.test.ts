import { createMemoryStore } from '../src/index.js';
import { describeRoomLogStore } from './support/room-log-store-contract.js';

describeRoomLogStore('memory', async () => ({
  create: async (options) => createMemoryStore(options),
  loseData: async () => {},
  cleanup: async () => {},
}));
