// Part of the scan examples suite (examples-suite.ts): the other cells.
import { scanExamplesSuite } from './examples-suite.js';

scanExamplesSuite('other');
