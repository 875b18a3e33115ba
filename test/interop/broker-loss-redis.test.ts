/** The broker-loss suite (test/interop/broker-loss/suite.ts) over Redis. */
import { defineBrokerLossSuite } from "./broker-loss/suite.js";

defineBrokerLossSuite("redis");
