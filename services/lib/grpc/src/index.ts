export { deadline, tracingClientInterceptor } from './client.js';
export { metadataCarrier } from './metadata-carrier.js';
export { type GrpcServerHandle, type GrpcServiceRegistration, startGrpcServer } from './server.js';
