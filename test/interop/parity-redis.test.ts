/** The shared interop parity suite (test/interop/parity/suite.ts) over Redis. */
import { defineParitySuite } from "./parity/suite.js";

defineParitySuite("redis");
