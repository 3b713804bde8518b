// Part of the scan examples suite (examples-suite.ts): the sum-prod cells.
import { scanExamplesSuite } from './examples-suite.js';

scanExamplesSuite('sum-prod');
