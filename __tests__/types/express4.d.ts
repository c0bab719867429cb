// The `express4` npm alias (express@4) has no types of its own; Express 5's describe what the tests use.
declare module 'express4' {
  import express from 'express';
  export = express;
}
