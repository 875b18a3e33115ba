/** The Flower suite (test/interop/flower/suite.ts) over Redis. */
import { defineFlowerSuite } from "./flower/suite.js";

defineFlowerSuite("redis");
