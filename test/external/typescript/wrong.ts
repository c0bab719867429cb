// Must not compile: a tag is a string.
import { Heartbeat } from 'express-heartbeat';

new Heartbeat({ tag: 42, interval: 30 });
