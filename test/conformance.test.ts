// Runs the conformance suite against every backend (see backends.ts to add one).

import { backends } from './backends.js';
import { conformanceSuite } from './conformance.js';

for (const backend of backends) conformanceSuite(backend);
