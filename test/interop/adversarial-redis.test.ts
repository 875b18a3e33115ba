/** The adversarial suite (test/interop/adversarial/suite.ts) over Redis. */
import { defineAdversarialSuite } from "./adversarial/suite.js";

defineAdversarialSuite("redis");
