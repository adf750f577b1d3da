//! The columns of HAProxy's statistics CSV, in its documented order (HAProxy 2.6
//! management guide, section 9.1, "pxname" through "agg_check_status"). Exporters and
//! HAProxy's own tools read columns by position, so the order is the format.

macro_rules! columns {
    ($($id:ident = $name:literal,)*) => {
        /// A column of the CSV.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Col {
            $(
                #[doc = concat!("`", $name, "`")]
                $id,
            )*
        }

        /// The column names, in order.
        pub const NAMES: &[&str] = &[$($name,)*];
    };
}

columns! {
    Pxname = "pxname",
    Svname = "svname",
    Qcur = "qcur",
    Qmax = "qmax",
    Scur = "scur",
    Smax = "smax",
    Slim = "slim",
    Stot = "stot",
    Bin = "bin",
    Bout = "bout",
    Dreq = "dreq",
    Dresp = "dresp",
    Ereq = "ereq",
    Econ = "econ",
    Eresp = "eresp",
    Wretr = "wretr",
    Wredis = "wredis",
    Status = "status",
    Weight = "weight",
    Act = "act",
    Bck = "bck",
    Chkfail = "chkfail",
    Chkdown = "chkdown",
    Lastchg = "lastchg",
    Downtime = "downtime",
    Qlimit = "qlimit",
    Pid = "pid",
    Iid = "iid",
    Sid = "sid",
    Throttle = "throttle",
    Lbtot = "lbtot",
    Tracked = "tracked",
    Type = "type",
    Rate = "rate",
    RateLim = "rate_lim",
    RateMax = "rate_max",
    CheckStatus = "check_status",
    CheckCode = "check_code",
    CheckDuration = "check_duration",
    Hrsp1xx = "hrsp_1xx",
    Hrsp2xx = "hrsp_2xx",
    Hrsp3xx = "hrsp_3xx",
    Hrsp4xx = "hrsp_4xx",
    Hrsp5xx = "hrsp_5xx",
    HrspOther = "hrsp_other",
    Hanafail = "hanafail",
    ReqRate = "req_rate",
    ReqRateMax = "req_rate_max",
    ReqTot = "req_tot",
    CliAbrt = "cli_abrt",
    SrvAbrt = "srv_abrt",
    CompIn = "comp_in",
    CompOut = "comp_out",
    CompByp = "comp_byp",
    CompRsp = "comp_rsp",
    Lastsess = "lastsess",
    LastChk = "last_chk",
    LastAgt = "last_agt",
    Qtime = "qtime",
    Ctime = "ctime",
    Rtime = "rtime",
    Ttime = "ttime",
    AgentStatus = "agent_status",
    AgentCode = "agent_code",
    AgentDuration = "agent_duration",
    CheckDesc = "check_desc",
    AgentDesc = "agent_desc",
    CheckRise = "check_rise",
    CheckFall = "check_fall",
    CheckHealth = "check_health",
    AgentRise = "agent_rise",
    AgentFall = "agent_fall",
    AgentHealth = "agent_health",
    Addr = "addr",
    Cookie = "cookie",
    Mode = "mode",
    Algo = "algo",
    ConnRate = "conn_rate",
    ConnRateMax = "conn_rate_max",
    ConnTot = "conn_tot",
    Intercepted = "intercepted",
    Dcon = "dcon",
    Dses = "dses",
    Wrew = "wrew",
    Connect = "connect",
    Reuse = "reuse",
    CacheLookups = "cache_lookups",
    CacheHits = "cache_hits",
    SrvIcur = "srv_icur",
    SrcIlim = "src_ilim",
    QtimeMax = "qtime_max",
    CtimeMax = "ctime_max",
    RtimeMax = "rtime_max",
    TtimeMax = "ttime_max",
    Eint = "eint",
    IdleConnCur = "idle_conn_cur",
    SafeConnCur = "safe_conn_cur",
    UsedConnCur = "used_conn_cur",
    NeedConnEst = "need_conn_est",
    Uweight = "uweight",
    AggServerStatus = "agg_server_status",
    AggServerCheckStatus = "agg_server_check_status",
    AggCheckStatus = "agg_check_status",
}

/// Number of columns.
pub const COUNT: usize = NAMES.len();

/// The CSV header line, as HAProxy writes it.
pub fn header() -> String {
    let mut h = String::from("# ");
    for n in NAMES {
        h.push_str(n);
        h.push(',');
    }
    h.push('\n');
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_numbered_as_haproxy_documents_them() {
        assert_eq!(Col::Status as usize, 17);
        assert_eq!(Col::Type as usize, 32);
        assert_eq!(Col::CheckStatus as usize, 36);
        assert_eq!(Col::ReqTot as usize, 48);
        assert_eq!(Col::Addr as usize, 73);
        assert_eq!(Col::AggCheckStatus as usize, 102);
        assert_eq!(COUNT, 103);
    }
}
