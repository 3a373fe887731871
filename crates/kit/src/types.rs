//! The numeric vocabulary of proxy-wasm ABI 0.2.1, shared by the filters and by the
//! wasmtime test host so both sides agree on every code.

/// A hostcall's status code (ABI `WasmResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    NotFound,
    BadArgument,
    SerializationFailure,
    ParseFailure,
    BadExpression,
    InvalidMemoryAccess,
    Empty,
    CasMismatch,
    ResultMismatch,
    InternalFailure,
    BrokenConnection,
    Unimplemented,
    /// A code this ABI version does not define; kept so nothing is lost.
    Other(u32),
}

impl Status {
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Ok,
            1 => Self::NotFound,
            2 => Self::BadArgument,
            3 => Self::SerializationFailure,
            4 => Self::ParseFailure,
            5 => Self::BadExpression,
            6 => Self::InvalidMemoryAccess,
            7 => Self::Empty,
            8 => Self::CasMismatch,
            9 => Self::ResultMismatch,
            10 => Self::InternalFailure,
            11 => Self::BrokenConnection,
            12 => Self::Unimplemented,
            other => Self::Other(other),
        }
    }

    pub fn code(self) -> u32 {
        match self {
            Self::Ok => 0,
            Self::NotFound => 1,
            Self::BadArgument => 2,
            Self::SerializationFailure => 3,
            Self::ParseFailure => 4,
            Self::BadExpression => 5,
            Self::InvalidMemoryAccess => 6,
            Self::Empty => 7,
            Self::CasMismatch => 8,
            Self::ResultMismatch => 9,
            Self::InternalFailure => 10,
            Self::BrokenConnection => 11,
            Self::Unimplemented => 12,
            Self::Other(code) => code,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "Ok",
            Self::NotFound => "NotFound",
            Self::BadArgument => "BadArgument",
            Self::SerializationFailure => "SerializationFailure",
            Self::ParseFailure => "ParseFailure",
            Self::BadExpression => "BadExpression",
            Self::InvalidMemoryAccess => "InvalidMemoryAccess",
            Self::Empty => "Empty",
            Self::CasMismatch => "CasMismatch",
            Self::ResultMismatch => "ResultMismatch",
            Self::InternalFailure => "InternalFailure",
            Self::BrokenConnection => "BrokenConnection",
            Self::Unimplemented => "Unimplemented",
            Self::Other(_) => "Other",
        }
    }
}

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:expr),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn from_code(code: u32) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)+ _ => None }
            }

            pub fn code(self) -> u32 {
                match self { $(Self::$variant => $code),+ }
            }
        }
    };
}

code_enum!(
    /// Which header map a header hostcall addresses (ABI `MapType`).
    MapKind {
        RequestHeaders = 0,
        RequestTrailers = 1,
        ResponseHeaders = 2,
        ResponseTrailers = 3,
        GrpcReceiveInitialMetadata = 4,
        GrpcReceiveTrailingMetadata = 5,
        HttpCallResponseHeaders = 6,
        HttpCallResponseTrailers = 7,
    }
);

code_enum!(
    /// Which buffer a buffer hostcall addresses (ABI `BufferType`).
    BufferKind {
        HttpRequestBody = 0,
        HttpResponseBody = 1,
        DownstreamData = 2,
        UpstreamData = 3,
        HttpCallResponseBody = 4,
        GrpcReceiveBuffer = 5,
        VmConfiguration = 6,
        PluginConfiguration = 7,
        CallData = 8,
    }
);

code_enum!(
    /// Log levels, lowest first (ABI `LogLevel`).
    LogLevel {
        Trace = 0,
        Debug = 1,
        Info = 2,
        Warn = 3,
        Error = 4,
        Critical = 5,
    }
);

code_enum!(
    /// Metric types (ABI `MetricType`).
    MetricKind {
        Counter = 0,
        Gauge = 1,
        Histogram = 2,
    }
);

code_enum!(
    /// Stream directions for `proxy_continue_stream` / `proxy_close_stream`.
    StreamKind {
        Request = 0,
        Response = 1,
        Downstream = 2,
        Upstream = 3,
    }
);
