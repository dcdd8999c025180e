"""The console's words in Chinese (the default) and English, one tap apart.

The choice travels in the `yz_lang` cookie (set by /console/lang); exports use the same
labels as the screen, so a CSV made from the Chinese page has Chinese headers.
"""

from collections.abc import Callable, Iterable
from typing import Final, Literal

Lang = Literal["zh", "en"]
LANGS: Final[tuple[Lang, ...]] = ("zh", "en")
LANG_COOKIE: Final = "yz_lang"

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "console": ("驿站运营台", "Yizhan console"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "wrong_password": ("用户名或密码错误", "Wrong username or password"),
    "too_many_attempts": (
        "登录尝试过多，请 {seconds} 秒后再试",
        "Too many attempts, try again in {seconds} s",
    ),
    "other_lang": ("English", "中文"),
    "overview": ("概况", "Overview"),
    "alarms_page": ("告警与死信", "Alarms & dead letters"),
    "scope": ("范围", "Scope"),
    "network": ("全网", "Whole network"),
    "my_districts": ("我的辖区", "My districts"),
    "district": ("区", "District"),
    "period": ("时段", "Period"),
    "today": ("今天", "Today"),
    "7d": ("近7天", "7 days"),
    "30d": ("近30天", "30 days"),
    "month": ("本月", "This month"),
    "custom": ("自定义", "Custom"),
    "from": ("开始", "From"),
    "to": ("结束", "To"),
    "bucket": ("粒度", "Bucket"),
    "hour": ("小时", "Hour"),
    "day": ("天", "Day"),
    "week": ("周", "Week"),
    "apply": ("应用", "Apply"),
    "today_figures": ("今日", "Today"),
    "period_figures": ("所选时段", "Chosen period"),
    "visits": ("服务人次", "Person-visits"),
    "charge_sessions": ("充电次数", "Charging sessions"),
    "energy_kwh": ("充电量 (kWh)", "Energy (kWh)"),
    "water_liters": ("饮水量 (升)", "Water (litres)"),
    "dispenses": ("接水次数", "Dispenses"),
    "heat_uses": ("加热次数", "Heating uses"),
    "heat_minutes": ("加热时长 (分钟)", "Heating (minutes)"),
    "bookings_confirmed": ("预约（已确认）", "Bookings confirmed"),
    "bookings_checked_in": ("已签到", "Checked in"),
    "bookings_no_show": ("未到场", "No-shows"),
    "livestream_households": ("直播带货服务户数", "Livestream: households served"),
    "livestream_sales_yuan": ("直播销售额 (元)", "Livestream sales (yuan)"),
    "opinions_received": ("收到意见", "Opinions received"),
    "opinions_resolved": ("已解决意见", "Opinions resolved"),
    "devices_offline": ("离线设备", "Devices offline"),
    "open_alarms": ("未关闭告警", "Open alarms"),
    "stations": ("驿站", "Stations"),
    "station": ("驿站", "Station"),
    "series": ("趋势", "Time series"),
    "peak_hours": (
        "高峰时段（服务人次，星期 × 小时）",
        "Peak hours (person-visits, weekday × hour)",
    ),
    "ranking": ("驿站排名", "Stations by use"),
    "availability": ("设备可用率（在线时间占比）", "Equipment availability (share of time online)"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "start": ("起始", "Start"),
    "weekday": ("星期", "Weekday"),
    "hour_of_day": ("时", "Hour"),
    "device": ("设备", "Device"),
    "kind": ("类型", "Kind"),
    "observed_hours": ("观测小时", "Hours observed"),
    "online_share": ("在线率 %", "Online %"),
    "online": ("在线", "Online"),
    "offline": ("离线", "Offline"),
    "last_seen": ("最后上报", "Last seen"),
    "firmware": ("固件", "Firmware"),
    "alarms": ("告警", "Alarms"),
    "code": ("代码", "Code"),
    "severity": ("级别", "Severity"),
    "message": ("说明", "Message"),
    "since": ("开始于", "Since"),
    "age": ("持续", "Age"),
    "acknowledged": ("已确认", "Acknowledged"),
    "acknowledge": ("确认", "Acknowledge"),
    "note": ("备注", "Note"),
    "dead_letters": ("死信（未入库的消息）", "Dead letters (messages not stored)"),
    "received_at": ("接收时间", "Received"),
    "topic": ("主题", "Topic"),
    "reason": ("原因", "Reason"),
    "detail": ("详情", "Detail"),
    "payload": ("内容", "Payload"),
    "details": ("基本信息", "Details"),
    "address": ("地址", "Address"),
    "timezone": ("时区", "Time zone"),
    "status": ("状态", "Status"),
    "host_type": ("场所", "Host"),
    "opening_hours": ("开放时间", "Opening hours"),
    "always_open": ("全天开放", "Always open"),
    "devices": ("设备", "Devices"),
    "model": ("型号", "Model"),
    "livestream_points": ("直播点", "Livestream points"),
    "forum_sessions": ("议事会", "Forum sessions"),
    "utilisation": ("使用率", "Utilisation"),
    "unavailable": ("暂不可用", "unavailable"),
    "bookings_unavailable": (
        "预约服务暂不可用，预约与意见数据缺失",
        "Bookings is unavailable right now: bookings and opinions are missing",
    ),
    "livestream": ("直播点", "Livestream"),
    "forum": ("议事会", "Forum sessions"),
    "livestream_bookings": ("直播预约", "Livestream bookings"),
    "livestream_booked_hours": ("已预约小时", "Hours booked"),
    "livestream_open_hours": ("开放小时", "Hours open"),
    "forum_sessions_count": ("场次", "Sessions"),
    "forum_seats": ("座位", "Seats"),
    "forum_confirmed": ("已确认座位", "Seats taken"),
    "forum_waitlisted": ("候补", "Waitlisted"),
    "no_show_rate": ("未到场率 %", "No-show rate %"),
    "telemetry_unavailable": ("遥测服务暂不可用", "Telemetry is unavailable right now"),
    "stations_unavailable": (
        "驿站服务暂不可用，请稍后再试",
        "Stations is unavailable; try again shortly",
    ),
    "no_stations": ("没有驿站", "No stations in your scope"),
    "no_alarms": ("没有未关闭的告警", "No open alarms"),
    "no_dead_letters": ("没有死信", "No dead letters"),
    "none": ("无", "none"),
    "live": ("实时", "Live"),
    "total": ("合计", "Total"),
    "more_alarms": ("另有 {n} 条", "{n} more"),
    "chart_library_missing": (
        "图表库未安装（运行 make setup）；表格仍可用",
        "Chart library not installed (run make setup); tables still work",
    ),
    "read_only": ("只读账号不能确认告警", "Read-only accounts cannot acknowledge"),
    "invalid_period": ("时段无效", "Invalid period"),
    "all_stations": ("全部驿站", "All stations"),
    "device_kind_charger": ("充电", "Charger"),
    "device_kind_water": ("饮水机", "Water"),
    "device_kind_heater": ("加热", "Heater"),
    "device_kind_counter": ("计数器", "Counter"),
    "device_kind_kiosk": ("终端", "Kiosk"),
    "device_kind_other": ("其他", "Other"),
    "new_station": ("新建驿站", "New station"),
    "station_id": ("驿站编号", "Station id"),
    "name_zh": ("中文名称", "Name (Chinese)"),
    "name_en": ("英文名称", "Name (English)"),
    "latitude": ("纬度", "Latitude"),
    "longitude": ("经度", "Longitude"),
    "amenities": ("设施（逗号分隔）", "Amenities (comma-separated)"),
    "host_bank_branch": ("银行网点", "Bank branch"),
    "host_petrol_station": ("加油站", "Petrol station"),
    "host_battery_swap": ("换电站", "Battery swap"),
    "host_community_centre": ("社区中心", "Community centre"),
    "host_scenic_area": ("景区", "Scenic area"),
    "host_other": ("其他", "Other"),
    "create": ("创建", "Create"),
    "form_invalid": ("请修改标出的字段", "Please correct the marked fields"),
    "not_a_number": ("请输入数字", "Enter a number"),
    "id_taken": ("该编号已存在", "This id is taken"),
    "not_allowed": ("无权进行此操作", "You may not do this"),
    "stations_down": ("驿站服务暂不可用，请稍后再试", "Stations is unavailable, try again"),
    "new_device": ("登记设备", "Register a device"),
    "device_id": ("设备编号", "Device id"),
    "device_kind": ("设备类型", "Kind"),
    "station_created": ("驿站已创建", "Station created"),
    "credentials": ("设备接入凭据", "Device credentials"),
    "credentials_once": (
        "密码只显示这一次，请立即打印或抄录",
        "The password is shown only this once: print or copy it now",
    ),
    "mqtt_username": ("MQTT 用户名", "MQTT username"),
    "mqtt_password": ("MQTT 密码", "MQTT password"),
    "print": ("打印", "Print"),
    "another_device": ("再登记一台", "Register another"),
    # Console quality (issue 14 item 4): the raw values of the other services as people read
    # them (value_label), and the acknowledgement's time.
    "severity_warning": ("警告", "Warning"),
    "severity_critical": ("严重", "Critical"),
    "station_status_active": ("运营中", "Active"),
    "station_status_suspended": ("暂停", "Suspended"),
    "station_status_closed": ("已关闭", "Closed"),
    "device_status_active": ("启用", "Active"),
    "device_status_revoked": ("已吊销", "Revoked"),
    "alarm_code_offline": ("设备离线", "Device offline"),
    "alarm_code_clock": ("设备时钟错误", "Device clock wrong"),
    "alarm_code_station_dark": ("驿站全部设备离线", "Station dark (all devices offline)"),
    "alarm_code_water_low": ("水箱水位低", "Water tank low"),
    "alarm_code_overheat": ("过热", "Overheating"),
    "alarm_code_fan_failure": ("风扇故障", "Fan failure"),
    "reason_too_large": ("消息过大", "Too large"),
    "reason_malformed_json": ("不是有效的 JSON", "Not valid JSON"),
    "reason_unsupported_version": ("协议版本不支持", "Unsupported version"),
    "reason_bad_topic": ("主题错误", "Bad topic"),
    "reason_unknown_type": ("未知消息类型", "Unknown type"),
    "reason_invalid": ("字段无效", "Invalid fields"),
    "reason_out_of_range": ("数值超出范围", "Value out of range"),
    "reason_ts_future": ("时间戳在未来（设备时钟快）", "Timestamp in the future (clock fast)"),
    "reason_ts_stale": ("时间戳过旧（超过30天）", "Timestamp too old (over 30 days)"),
    "reason_unknown_device": ("未登记的设备", "Unknown device"),
    "reason_station_mismatch": ("设备不属于该驿站", "Device of another station"),
    "acknowledged_at": ("确认时间", "Acknowledged at"),
    "closed_day": ("休息", "closed"),
    "through": ("至", "–"),
}

# Weekdays as the stations service keys opening hours, Monday first (ISO order).
WEEKDAY_KEYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS: Final[dict[Lang, tuple[str, ...]]] = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def pick_lang(value: str | None) -> Lang:
    """A supported language from a cookie or parameter; Chinese otherwise."""
    return "en" if value == "en" else "zh"


def value_label(t: Callable[..., str], kind: str, raw: str) -> str:
    """A raw value of another service (`critical`, `scenic_area`, `ts_stale`...) in the
    page's language; a value nobody named (a device's own fault code) as it came."""
    key = f"{kind}_{raw.lower()}"
    return t(key) if key in TEXTS else raw


def codes_text(t: Callable[..., str], kind: str, codes: Iterable[str]) -> str:
    """Several raw values as one cell: `设备离线、水箱水位低`."""
    return "、".join(value_label(t, kind, code) for code in codes)


def translator(lang: Lang) -> Callable[..., str]:
    """t(key, **values): the text in `lang` (the key itself when missing, to be visible)."""
    index = LANGS.index(lang)

    def t(key: str, **values: object) -> str:
        pair = TEXTS.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t
